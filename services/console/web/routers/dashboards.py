"""The group's roll-up across subsidiaries (a subsidiary's own dashboard is its overview)."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.web.deps import CurrentUser, Services
from services.console.web.pages import render

router = APIRouter(tags=["dashboards"])


@router.get("/dashboard")
async def group_dashboard(request: Request, user: CurrentUser, api: Services) -> Response:
    dashboard = await api.get("sessions", "/dashboard")
    return render(request, "group_dashboard.html", dashboard=dashboard)
