"""A long operation's page: which step it is at, for how long, and how it ended."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from services.console.gateway import api_path
from services.console.i18n import N_
from services.console.jobs import Job
from services.console.web.deps import CurrentUser, Services
from services.console.web.pages import render

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _job(request: Request, job_id: str, owner: str) -> Job:
    job: Job | None = request.app.state.jobs.get(job_id, owner)
    if job is None:  # another user's, forgotten after an hour, or from before a restart
        raise HTTPException(status.HTTP_404_NOT_FOUND, N_("This operation is unknown to the console (it may have restarted)."))
    return job


@router.get("/{job_id}")
async def job_page(request: Request, job_id: str, user: CurrentUser, api: Services) -> Response:
    job = _job(request, job_id, user.owner)
    request.state.subsidiary = await api.get("enrolment", api_path("/subsidiaries/{}", job.subsidiary_id))
    return render(request, "job.html", job=job, tab="participants" if job.kind == "import" else "matching")


@router.get("/{job_id}/progress")
async def job_progress(request: Request, job_id: str, user: CurrentUser) -> Response:
    """The progress block alone, for the page's script to swap in while the job runs."""
    return render(request, "job_progress.html", job=_job(request, job_id, user.owner))
