"""Dashboards: a subsidiary's programme in figures, and the group's roll-up."""

from fastapi import APIRouter

from services.common.auth import GroupAdmin
from services.common.http import ERROR_RESPONSES
from services.sessions.api.deps import KnownSubsidiary, Now, Sessions
from services.sessions.api.schemas import GroupDashboard, SubsidiaryDashboard

router = APIRouter(tags=["dashboards"], responses=ERROR_RESPONSES)


@router.get("/subsidiaries/{subsidiary_id}/dashboard", dependencies=[KnownSubsidiary], summary="The subsidiary's programme in figures")
def subsidiary_dashboard(subsidiary_id: str, sessions: Sessions, now: Now) -> SubsidiaryDashboard:
    return SubsidiaryDashboard(**sessions.view.dashboard(subsidiary_id, now))


@router.get("/dashboard", summary="Every subsidiary's figures and their total (group admin)")
def group_dashboard(_: GroupAdmin, sessions: Sessions, now: Now) -> GroupDashboard:
    return GroupDashboard(**sessions.view.group_dashboard(now))
