"""The audit API every service serves: its events per subsidiary, in order, with their hash
chain and stored bytes so auditors can verify them; and the record of who read them.

Routes (all read-only):
- GET /subsidiaries/{sid}/audit/events?after=&limit=&since=&until=&reveal= : the subsidiary's
  events in this service, each with position, time, actor, type, payload, what was published
  for it, hash, previous hash and the stored bytes. X-Audit-Head gives the log's last
  position. Personal values are shown as stored, sealed, unless `reveal=true` opens them
  (with the key store; an erased participant's read as erased), which the read's record says.
- GET /subsidiaries/{sid}/audit/head : the log's head (position, hash) and any stored event
  no link covers.
- GET /audit/replay (group admins, group-wide auditors): rebuild the service's read models
  from its event store into fresh ones and report any difference with the live ones; one at
  a time per process (another asked meanwhile gets 409).
Every read of events is itself recorded, as an AuditRead event in the same log; a replay in
the group's log, `-`. A subsidiary this service has no log of answers 404 and records nothing
(a read of nothing would otherwise start a log for any name asked).
"""

import threading
from datetime import datetime
from typing import Annotated, Any

from eventsourcing.domain import event
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.encoders import jsonable_encoder
from pydantic import AwareDatetime, BaseModel, Field

from services.common.auth import CurrentPrincipal, Principal, SubsidiaryReader
from services.common.chain import ENVELOPE_FIELDS, UNPLACED, Link, iso, stored_as_json
from services.common.context import Aggregate, acting
from services.common.errors import ServiceError
from services.common.http import ERROR_RESPONSES, Acting

GROUP_LOG = UNPLACED  # events of no one subsidiary, e.g. a replay of them all
MAX_POSITION = 2**63 - 1  # the stores' 64-bit positions: a larger one is refused (422), never sent to SQL


class AuditRead(Aggregate):
    """Somebody read a subsidiary's history: who (the context's actor), what, and how much."""

    @event("Recorded")
    def __init__(self, subsidiary_id: str, what: str, query: dict[str, Any], count: int) -> None:
        self.subsidiary_id = subsidiary_id


class NoChain(ServiceError):
    status_code = 503


class ReplayRunning(ServiceError):
    status_code = 409


REPLAY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"description": "Another replay is running in this service: try again when it is done"},
}


class AuditEvent(BaseModel):
    service: str
    subsidiary_id: str
    position: int = Field(description="1, 2, ... within this subsidiary's log in this service")
    notification_id: int = Field(description="Where the event sits in the service's whole notification log")
    recorded_at: str = Field(description="When the event was recorded (UTC), as chained")
    time: str | None = Field(description="The event's own timestamp")
    actor: dict[str, Any] | None
    type: str | None = Field(description="The stored domain event, e.g. Participant.Enrolled; null if it cannot be read")
    payload: dict[str, Any] | None
    published: dict[str, Any] | None = Field(description="The integration event published for it, if any")
    hash: str
    prev_hash: str
    stored: dict[str, Any] | None = Field(description="The stored bytes the hash covers (state in base64); null if the row is gone")
    problem: str | None = None


class AuditHead(BaseModel):
    service: str
    subsidiary_id: str
    position: int
    hash: str
    unchained: list[int] = Field(description="Notification ids of stored events no link covers (should be empty)")


def audit_router(runtime: Any) -> APIRouter:
    """`runtime` is the service's ServiceRuntime: its application and what it publishes."""
    router = APIRouter(prefix="/subsidiaries/{subsidiary_id}/audit", tags=["audit"], responses=ERROR_RESPONSES)

    def recorder() -> Any:
        found = runtime.application.recorder
        if not hasattr(found, "select_links"):
            raise NoChain("this event store keeps no hash chain (use the sqlite or postgres persistence module)")
        return found

    @router.get(
        "/events", summary="The subsidiary's events in this service, with their hash chain", response_model=list[AuditEvent], dependencies=[Acting]
    )
    def events(
        subsidiary_id: str,
        principal: SubsidiaryReader,
        response: Response,
        after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="Only events after this position")] = 0,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
        since: Annotated[AwareDatetime | None, Query(description="Only events recorded at or after this time")] = None,
        until: Annotated[AwareDatetime | None, Query(description="Only events recorded at or before this time")] = None,
        reveal: Annotated[bool, Query(description="Open the sealed personal values (the read's record says so)")] = False,
    ) -> list[dict[str, Any]]:
        chain = recorder()
        head, head_hash = known_head(chain, subsidiary_id)
        rows = chain.select_links(subsidiary_id, after, limit, _iso(since), _iso(until))
        found = [_audit_event(runtime, link, stored, reveal) for link, stored in rows]
        query = {"after": after, "limit": limit, "since": _iso(since), "until": _iso(until), "reveal": reveal}
        # Recorded after the read, so a reader paging up to X-Audit-Head never chases its own records.
        runtime.application.save(
            AuditRead(subsidiary_id=subsidiary_id, what="events", query=query, count=len(found))
        )
        response.headers["X-Audit-Head"] = str(head)
        response.headers["X-Audit-Head-Hash"] = head_hash
        return found

    @router.get("/head", summary="The last link of the subsidiary's log, and stored events no link covers", response_model=AuditHead)
    def head(subsidiary_id: str, principal: SubsidiaryReader) -> dict[str, Any]:
        chain = recorder()
        position, hash_ = known_head(chain, subsidiary_id)
        return {"service": runtime.name, "subsidiary_id": subsidiary_id, "position": position, "hash": hash_, "unchained": chain.unchained()}

    return router


def known_head(chain: Any, subsidiary_id: str) -> tuple[int, str]:
    """The log's head; 404 (the answer a subsidiary the token cannot see gets) if there is none."""
    position, hash_ = chain.head(subsidiary_id)
    if position == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"subsidiary {subsidiary_id!r} not found")
    return position, hash_


def group_reader(principal: CurrentPrincipal) -> Principal:
    """Group admins and group-wide auditors: those who may see every subsidiary."""
    if principal.subsidiary is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a group admin or a group-wide auditor can do this")
    return principal


def replay_router(runtime: Any) -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"], responses=REPLAY_RESPONSES)
    # A replay reads the whole store and builds every read model again: two at once would only
    # share the machine, and many at once would starve the service. One at a time, refused meanwhile.
    running = threading.Lock()

    @router.get(
        "/replay", summary="Rebuild this service's read models from its event store and compare them with the live ones", dependencies=[Acting]
    )
    def replay(principal: Annotated[Principal, Depends(group_reader)]) -> dict[str, Any]:
        if not running.acquire(blocking=False):
            raise ReplayRunning("a replay is already running in this service; try again when it is done")
        try:
            report = _replay(runtime.application)
        finally:
            running.release()
        # It read every subsidiary's events: recorded in the group's log ("-"), after the read.
        with acting(subsidiary_id=GROUP_LOG):
            runtime.application.save(AuditRead(subsidiary_id=GROUP_LOG, what="replay", query={}, count=report["events"]))
        return report

    return router


def _replay(application: Any) -> dict[str, Any]:
    from services.common.replay import replay_read_models

    return replay_read_models(application)


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def _audit_event(runtime: Any, link: Link, stored: Any, reveal: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "service": runtime.name,
        "subsidiary_id": link.log,
        "position": link.position,
        "notification_id": link.notification_id,
        "recorded_at": link.recorded_at,
        "time": None,
        "actor": None,
        "type": None,
        "payload": None,
        "published": None,
        "hash": link.hash,
        "prev_hash": link.prev_hash,
        "stored": None,
    }
    if stored is None:
        item["problem"] = "the stored event is missing"
        return item
    item["stored"] = stored_as_json(stored)
    mapper = runtime.application.mapper
    # As stored, sealed (what the relay publishes too), unless the reader asked to reveal.
    try:
        domain_event = mapper.to_domain_event(stored) if reveal else mapper.to_sealed_domain_event(stored, shown=True)
    except Exception as exc:  # a damaged row must still be listed, so the chain shows where
        item["problem"] = f"the stored event cannot be read: {type(exc).__name__}"
        return item
    context = getattr(domain_event, "context", None) or {}
    published = runtime.publishable(domain_event)
    item.update(
        time=iso(domain_event.timestamp),
        actor=context.get("actor"),
        type=type(domain_event).__qualname__,
        payload=jsonable_encoder({k: v for k, v in domain_event.__dict__.items() if k not in ENVELOPE_FIELDS}),
        published=published.model_dump(mode="json") if published is not None else None,
    )
    return item
