"""Long operations (a CSV import of thousands of rows, a matching run) run in the background
while their page shows which step they are at and for how long; the user may leave and come
back. Jobs live in the console's memory: a restart forgets them (the services keep what they
recorded)."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from services.console.gateway import ApiError, ServiceProblem, ServiceUnavailable

KEEP_SECONDS = 3600.0  # how long a finished job can still be looked at


@dataclass
class Job:
    id: str
    owner: str  # the signed-in session it belongs to: nobody else sees it
    kind: Literal["import", "matching-run"]
    subsidiary_id: str
    step: str = "starting"
    counts: dict[str, int] = field(default_factory=dict)
    state: Literal["running", "done", "failed"] = "running"
    result: dict[str, Any] = field(default_factory=dict)
    problems: list[ServiceProblem | str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _started: float = field(default_factory=time.monotonic)
    _finished: float | None = None

    def at(self, step: str, **counts: int) -> None:
        self.step = step
        self.counts.update(counts)

    @property
    def seconds(self) -> float:
        return (self._finished or time.monotonic()) - self._started

    @property
    def running(self) -> bool:
        return self.state == "running"


Work = Callable[[Job], Awaitable[None]]


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: asyncio keeps weak ones

    def start(self, owner: str, kind: Literal["import", "matching-run"], subsidiary_id: str, work: Work) -> Job:
        self._forget_old()
        job = Job(id=uuid.uuid4().hex, owner=owner, kind=kind, subsidiary_id=subsidiary_id)
        self._jobs[job.id] = job
        task = asyncio.create_task(self._run(job, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None

    async def _run(self, job: Job, work: Work) -> None:
        try:
            await work(job)
        except ApiError as exc:
            job.state, job.problems = "failed", list[ServiceProblem | str](exc.problems())  # translated when shown, in the viewer's language
            job.result["status"] = exc.status
            job.result["detail"] = exc.detail
        except ServiceUnavailable as exc:
            job.state, job.problems = "failed", [str(exc)]
        except Exception as exc:  # shown to the user rather than lost in a task nobody awaits
            job.state, job.problems = "failed", [f"{type(exc).__name__}: {exc}"]
        else:
            job.state = "done"
        finally:
            job._finished = time.monotonic()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if job._finished is not None and now - job._finished > KEEP_SECONDS:
                del self._jobs[job_id]
