"""Sessions' read model: relationships, sessions and the dashboards' figures.

Every figure is kept up to date as events are applied (counters adjusted on each change),
so a dashboard is read in time proportional to the number of subsidiaries, never by
scanning relationships or sessions. Only `stalled` depends on the clock: the view keeps the
active relationships with no session booked sorted by match time, and counts those matched
more than 21 days ago by bisection when asked.
"""

from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from sortedcontainers import SortedList

from services.common.view import LogFollowingView
from services.sessions.calendar import zone_of
from services.sessions.domain import (
    ACTIVE,
    CANCELLED,
    CLOSED,
    COMPLETED,
    HELD,
    MENTEE,
    MENTOR,
    SCHEDULED,
    STALLED_AFTER,
    SESSION_ACTIONS,
    ProgrammeRules,
    Relationship,
    Roster,
    feedback_due,
    session_refusals,
    text_goes_with,
)


STALLED_SHOWN = 20  # a dashboard names the longest-stalled; /relationships?stalled=true lists them all


@dataclass
class Figures:
    """The counts a dashboard shows; they add up across subsidiaries."""

    mentors: int = 0
    certified_mentors: int = 0
    mentees: int = 0
    matched_mentees: int = 0
    relationships: Counter[str] = field(default_factory=Counter)
    sessions: Counter[str] = field(default_factory=Counter)  # by status
    held_by_theme: Counter[str] = field(default_factory=Counter)
    held_by_format: Counter[str] = field(default_factory=Counter)
    attendance_recorded: int = 0
    attendance_present: int = 0
    rating_sum: Counter[str] = field(default_factory=Counter)  # by the giver's role
    rating_count: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            **{
                name: getattr(self, name) + getattr(other, name)
                for name in self.__dataclass_fields__  # noqa: PLE1101 - dataclass fields, all additive
            }
        )

    def report(self, stalled: int) -> dict[str, Any]:
        def ratio(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "mentors": self.mentors,
            "certified_mentors": self.certified_mentors,
            "mentees": self.mentees,
            "matched_mentees": self.matched_mentees,
            "match_rate": ratio(self.matched_mentees, self.mentees),
            "relationships": {status: self.relationships[status] for status in (ACTIVE, COMPLETED, CLOSED)},
            "stalled_relationships": stalled,
            "sessions": {status: self.sessions[status] for status in (SCHEDULED, HELD, CANCELLED)},
            "sessions_held_by_theme": dict(sorted(self.held_by_theme.items())),
            "sessions_held_by_format": dict(sorted(self.held_by_format.items())),
            "attendance": {
                "recorded": self.attendance_recorded,
                "present": self.attendance_present,
                "no_shows": self.attendance_recorded - self.attendance_present,
                "rate": ratio(self.attendance_present, self.attendance_recorded),
            },
            "average_rating": {
                role: {"count": self.rating_count[role], "average": ratio(self.rating_sum[role], self.rating_count[role])}
                for role in (MENTOR, MENTEE)
            },
        }


@dataclass
class Subsidiary:
    """What the view holds for one subsidiary."""

    id: str
    name: str | None = None
    timezone: str = "UTC"
    programme: dict[str, Any] = field(default_factory=dict)
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    relationships: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_relationships: Counter[str] = field(default_factory=Counter)  # participant -> active or completed ones
    awaiting: "Awaiting" = field(default_factory=lambda: Awaiting())
    figures: Figures = field(default_factory=Figures)


class SessionsView(LogFollowingView):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.subsidiaries: dict[str, Subsidiary] = {}
        self.subsidiary_of: dict[UUID, str] = {}  # relationship id -> subsidiary

    # -- queries (each returns copies) ----------------------------------------------------

    def known(self, subsidiary_id: str) -> bool:
        self.catch_up()
        return subsidiary_id in self.subsidiaries

    def rules(self, subsidiary_id: str) -> ProgrammeRules | None:
        """The programme's rules for sessions; None for a subsidiary sessions does not know.
        Read here rather than from the roster: loading that aggregate costs in proportion
        to the subsidiary's size, and the programme is no invariant of a session."""
        self.catch_up()
        with self.lock:
            sub = self.subsidiaries.get(subsidiary_id)
            return ProgrammeRules(dict(sub.programme)) if sub is not None else None

    def relationships_with(self, subsidiary_id: str, participant_id: str) -> list[str]:
        """The relationships, whatever their status, whose free text goes with the participant's
        erasure: those they are the mentor or a mentee of (but a group that goes on without them)."""
        self.catch_up()
        with self.lock:
            return [rel["id"] for rel in self._subsidiary(subsidiary_id).relationships.values() if _member(rel, participant_id)]

    def relationship_of_session(self, subsidiary_id: str, session_id: str) -> UUID | None:
        self.catch_up()
        with self.lock:
            session = self._subsidiary(subsidiary_id).sessions.get(session_id)
            return UUID(session["relationship_id"]) if session else None

    def relationships(
        self,
        subsidiary_id: str,
        now: datetime,
        status: str | None = None,
        format: str | None = None,  # noqa: A002
        participant_id: str | None = None,
        stalled: bool | None = None,
    ) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            rows = [self._relationship_out(sub, row, now) for row in sub.relationships.values()]
        return [
            row
            for row in rows
            if (status is None or row["status"] == status)
            and (format is None or row["format"] == format)
            and (participant_id is None or participant_id in (row["mentor"]["id"], *(m["id"] for m in row["mentees"])))
            and (stalled is None or row["stalled"] == stalled)
        ]

    def relationship(self, subsidiary_id: str, relationship_id: str, now: datetime) -> dict[str, Any] | None:
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            row = sub.relationships.get(relationship_id)
            return self._relationship_out(sub, row, now) if row else None

    def sessions(
        self,
        subsidiary_id: str,
        now: datetime,
        status: str | None = None,
        relationship_id: str | None = None,
        participant_id: str | None = None,
        theme: str | None = None,
        starts_after: datetime | None = None,
        starts_before: datetime | None = None,
    ) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            rows = [
                row
                for row in sub.sessions.values()
                if (status is None or row["status"] == status)
                and (relationship_id is None or row["relationship_id"] == relationship_id)
                and (participant_id is None or participant_id in row["participant_ids"])
                and (theme is None or row["theme"].casefold() == theme.casefold())
                and (starts_after is None or row["starts_at"] >= starts_after)
                and (starts_before is None or row["starts_at"] < starts_before)
            ]
            return [self._session_out(sub, row, now) for row in sorted(rows, key=lambda r: (r["starts_at"], r["id"]))]

    def session(self, subsidiary_id: str, session_id: str, now: datetime) -> dict[str, Any] | None:
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            row = sub.sessions.get(session_id)
            return self._session_out(sub, row, now) if row else None

    def calendar_of(self, subsidiary_id: str, session_id: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A session with its relationship and the subsidiary's name and time zone."""
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            row = sub.sessions.get(session_id)
            if row is None:
                return None
            return self._session_out(sub, row, now), {"name": sub.name, "timezone": sub.timezone}

    def dashboard(self, subsidiary_id: str, now: datetime) -> dict[str, Any]:
        self.catch_up()
        with self.lock:
            sub = self._subsidiary(subsidiary_id)
            cutoff = now - STALLED_AFTER
            stalled = sub.awaiting.since_before(cutoff, limit=STALLED_SHOWN)
            return {"subsidiary_id": subsidiary_id, **sub.figures.report(sub.awaiting.count_since_before(cutoff)), "stalled": stalled}

    def group_dashboard(self, now: datetime) -> dict[str, Any]:
        self.catch_up()
        with self.lock:
            total, stalled_total, per = Figures(), 0, []
            for slug, sub in sorted(self.subsidiaries.items()):
                stalled = sub.awaiting.count_since_before(now - STALLED_AFTER)
                total, stalled_total = total + sub.figures, stalled_total + stalled
                per.append({"subsidiary_id": slug, "name": sub.name, **sub.figures.report(stalled)})
            return {"subsidiaries_count": len(per), **total.report(stalled_total), "subsidiaries": per}

    # -- projection -----------------------------------------------------------------------

    @singledispatchmethod
    def apply(self, domain_event: Any) -> None:
        """Events this view does not show (agendas, waiting matches) are skipped."""

    @apply.register
    def _(self, e: Roster.Opened) -> None:
        self.subsidiaries.setdefault(e.subsidiary_id, Subsidiary(e.subsidiary_id))

    @apply.register
    def _(self, e: Roster.SubsidiaryNoted) -> None:
        sub = self._subsidiary(e.context["subsidiary_id"])
        sub.name, sub.timezone = e.name, e.timezone

    @apply.register
    def _(self, e: Roster.ProgrammeNoted) -> None:
        self._subsidiary(e.context["subsidiary_id"]).programme = e.settings

    @apply.register
    def _(self, e: Roster.ParticipantNoted) -> None:
        sub = self._subsidiary(e.context["subsidiary_id"])
        with self._counting(sub, e.participant_id) as person:
            if person["as_of"] is None or e.as_of >= person["as_of"]:
                person.update(role=e.role, as_of=e.as_of)
                if not person["erased"]:
                    person.update(name=e.name, email=e.email)

    @apply.register
    def _(self, e: Roster.MentorCertified) -> None:
        sub = self._subsidiary(e.context["subsidiary_id"])
        with self._counting(sub, e.participant_id) as person:
            person["certified"] = True

    @apply.register
    def _(self, e: Roster.ParticipantWithdrawn) -> None:
        sub = self._subsidiary(e.context["subsidiary_id"])
        with self._counting(sub, e.participant_id) as person:
            person["withdrawn"] = True

    @apply.register
    def _(self, e: Roster.ParticipantErased) -> None:
        """Nothing personal of theirs is shown any more: name, email, their notes and feedback
        comments, and the free text of the relationships they are in (why it closed, its
        sessions' places and cancellation reasons: the application destroys those
        relationships' keys); counts, relationships and sessions stay. (Rare: a scan of the
        subsidiary.)"""
        sub = self._subsidiary(e.context["subsidiary_id"])
        with self._counting(sub, e.participant_id) as person:
            person.update(name=None, email=None, erased=True)
        for rel in sub.relationships.values():
            if _member(rel, e.participant_id):
                rel["reason"] = None
                for session_id in rel["session_ids"]:
                    sub.sessions[session_id].update(location=None, video_link=None, cancellation_reason=None)
            for note in rel["notes"]:
                if note["author_id"] == e.participant_id:
                    note["note"] = None
            for session_id in rel["session_ids"]:
                feedback = sub.sessions[session_id]["feedback"].get(e.participant_id)
                if feedback is not None:
                    feedback["comment"] = None

    @apply.register
    def _(self, e: Relationship.Opened) -> None:
        sub = self._subsidiary(e.subsidiary_id)
        rel_id = str(e.originator_id)
        self.subsidiary_of[e.originator_id] = e.subsidiary_id
        sub.relationships[rel_id] = {
            "id": rel_id,
            "match_id": e.match_id,
            "format": e.format,
            "mentor_id": e.mentor_id,
            "mentee_ids": list(e.mentee_ids),
            "theme": e.theme,
            "target_sessions": e.target_sessions,
            "session_minutes": e.session_minutes,
            "matched_at": e.matched_at,
            "opened_at": e.timestamp,
            "status": ACTIVE,
            "reason": None,
            "ended_at": None,
            "session_ids": [],
            "live_sessions": 0,  # scheduled or held
            "sessions_held": 0,
            "no_shows": Counter(),
            "notes": [],
        }
        sub.figures.relationships[ACTIVE] += 1
        sub.awaiting.add(rel_id, e.matched_at)
        for member in (e.mentor_id, *e.mentee_ids):
            with self._counting(sub, member):
                sub.open_relationships[member] += 1

    @apply.register
    def _(self, e: Relationship.SessionScheduled) -> None:
        sub, rel = self._relationship(e)
        sub.sessions[e.session_id] = {
            "id": e.session_id,
            "relationship_id": rel["id"],
            "format": rel["format"],
            "theme": e.theme,
            "starts_at": e.starts_at,
            "duration_minutes": e.duration_minutes,
            "location": e.location,
            "video_link": e.video_link,
            "participant_ids": list(e.participant_ids),
            "status": SCHEDULED,
            "sequence": 0,
            "cancellation_reason": None,
            "attendance": {},
            "feedback": {},
            "scheduled_at": e.timestamp,
            "held_at": None,
        }
        rel["session_ids"].append(e.session_id)
        rel["live_sessions"] += 1
        sub.awaiting.discard(rel["id"])
        sub.figures.sessions[SCHEDULED] += 1

    @apply.register
    def _(self, e: Relationship.SessionRescheduled) -> None:
        sub, _ = self._relationship(e)
        sub.sessions[e.session_id].update(
            starts_at=e.starts_at, duration_minutes=e.duration_minutes, location=e.location, video_link=e.video_link, sequence=e.sequence
        )

    @apply.register
    def _(self, e: Relationship.SessionCancelled) -> None:
        sub, rel = self._relationship(e)
        session = sub.sessions[e.session_id]
        session.update(status=CANCELLED, cancellation_reason=e.reason)
        sub.figures.sessions[SCHEDULED] -= 1
        sub.figures.sessions[CANCELLED] += 1
        rel["live_sessions"] -= 1
        if rel["live_sessions"] == 0 and rel["status"] == ACTIVE:
            sub.awaiting.add(rel["id"], rel["matched_at"])

    @apply.register
    def _(self, e: Relationship.AttendanceRecorded) -> None:
        sub, rel = self._relationship(e)
        attendance = sub.sessions[e.session_id]["attendance"]
        before = attendance.get(e.participant_id)
        figures = sub.figures
        if before is None:
            figures.attendance_recorded += 1
        else:  # a correction: the last record counts
            figures.attendance_present -= int(before)
            rel["no_shows"][e.participant_id] -= int(not before)
        attendance[e.participant_id] = e.present
        figures.attendance_present += int(e.present)
        rel["no_shows"][e.participant_id] += int(not e.present)

    @apply.register
    def _(self, e: Relationship.FeedbackGiven) -> None:
        sub, _ = self._relationship(e)
        sub.sessions[e.session_id]["feedback"][e.participant_id] = {
            "participant_id": e.participant_id,
            "role": e.role,
            "rating": e.rating,
            "comment": e.comment,
            "given_at": e.timestamp,
        }
        sub.figures.rating_sum[e.role] += e.rating
        sub.figures.rating_count[e.role] += 1

    @apply.register
    def _(self, e: Relationship.SessionHeld) -> None:
        sub, rel = self._relationship(e)
        session = sub.sessions[e.session_id]
        session.update(status=HELD, held_at=e.timestamp)
        rel["sessions_held"] = e.sessions_held
        figures = sub.figures
        figures.sessions[SCHEDULED] -= 1
        figures.sessions[HELD] += 1
        figures.held_by_theme[session["theme"]] += 1
        figures.held_by_format[rel["format"]] += 1

    @apply.register
    def _(self, e: Relationship.Completed) -> None:
        sub, rel = self._relationship(e)
        self._end(sub, rel, COMPLETED, None, e.timestamp, still_open=True)

    @apply.register
    def _(self, e: Relationship.Closed) -> None:
        sub, rel = self._relationship(e)
        self._end(sub, rel, CLOSED, e.reason, e.timestamp, still_open=False)

    @apply.register
    def _(self, e: Relationship.MemberLeft) -> None:
        sub, rel = self._relationship(e)
        rel["mentee_ids"].remove(e.participant_id)
        for session_id in e.session_ids:
            sub.sessions[session_id]["participant_ids"].remove(e.participant_id)
        if rel["status"] != CLOSED:
            with self._counting(sub, e.participant_id):
                sub.open_relationships[e.participant_id] -= 1

    @apply.register
    def _(self, e: Relationship.NoteAdded) -> None:
        _, rel = self._relationship(e)
        rel["notes"].append({"author_id": e.author_id, "note": e.note, "written_at": e.written_at})

    # -- helpers --------------------------------------------------------------------------

    def _subsidiary(self, subsidiary_id: str) -> Subsidiary:
        sub = self.subsidiaries.get(subsidiary_id)
        return sub if sub is not None else Subsidiary(subsidiary_id)  # unknown: empty, not stored

    def _relationship(self, e: Any) -> tuple[Subsidiary, dict[str, Any]]:
        sub = self.subsidiaries[self.subsidiary_of[e.originator_id]]
        return sub, sub.relationships[str(e.originator_id)]

    def _end(self, sub: Subsidiary, rel: dict[str, Any], status: str, reason: str | None, at: datetime, still_open: bool) -> None:
        sub.figures.relationships[rel["status"]] -= 1
        sub.figures.relationships[status] += 1
        rel.update(status=status, reason=reason, ended_at=at)
        sub.awaiting.discard(rel["id"])
        if not still_open:
            for member in (rel["mentor_id"], *rel["mentee_ids"]):
                with self._counting(sub, member):
                    sub.open_relationships[member] -= 1

    def _counting(self, sub: Subsidiary, participant_id: str) -> "_Recount":
        person = sub.participants.setdefault(
            participant_id,
            {
                "id": participant_id, "role": None, "name": None, "email": None, "as_of": None, "certified": False,
                "withdrawn": False, "erased": False,
            },
        )
        return _Recount(sub, person)

    def _relationship_out(self, sub: Subsidiary, row: dict[str, Any], now: datetime) -> dict[str, Any]:
        upcoming = [
            sub.sessions[s]["starts_at"] for s in row["session_ids"] if sub.sessions[s]["status"] == SCHEDULED
        ]
        return {
            **{k: v for k, v in row.items() if k not in ("mentor_id", "mentee_ids", "session_ids", "live_sessions", "no_shows")},
            "subsidiary_id": sub.id,
            "mentor": self._person(sub, row["mentor_id"]),
            "mentees": [self._person(sub, m) for m in row["mentee_ids"]],
            "sessions_scheduled": len(upcoming),
            "next_session_at": min(upcoming, default=None),
            "stalled": sub.awaiting.waiting_since_before(row["id"], now - STALLED_AFTER),
            "no_shows": {pid: n for pid, n in row["no_shows"].items() if n},
            "notes": [dict(n) for n in row["notes"]],
        }

    def _session_out(self, sub: Subsidiary, row: dict[str, Any], now: datetime) -> dict[str, Any]:
        rel = sub.relationships[row["relationship_id"]]
        refusals = session_refusals(row, rel["mentor_id"], now)  # the domain's rule, on the view's copy
        return {
            **{k: v for k, v in row.items() if k not in ("participant_ids", "attendance", "feedback")},
            "subsidiary_id": sub.id,
            "local_starts_at": row["starts_at"].astimezone(zone_of(sub.timezone)),
            "participants": [
                {
                    **self._person(sub, pid),
                    "role": MENTOR if pid == rel["mentor_id"] else MENTEE,
                    "present": row["attendance"].get(pid),
                }
                for pid in row["participant_ids"]
            ],
            "feedback": [dict(f) for f in row["feedback"].values()],
            "actions": {
                action: {"allowed": refusal is None, "reason": None if refusal is None else refusal.as_dict()}
                for action in SESSION_ACTIONS
                for refusal in [refusals[action]]
            },
            "feedback_due": feedback_due(row) if refusals["give_feedback"] is None else [],
        }

    @staticmethod
    def _person(sub: Subsidiary, participant_id: str) -> dict[str, Any]:
        person = sub.participants.get(participant_id, {})
        return {
            "id": participant_id,
            "name": person.get("name"),
            "email": person.get("email"),
            "personal_data_erased": person.get("erased", False),
        }

    # -- for replay -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the view holds as plain, comparable data (a copy): replay compares a
        view rebuilt from the store with this one. The awaiting index becomes its sorted
        list, and counters lose their zeros (a count back to 0 is no count)."""

        def plain(value: Any) -> Any:
            if isinstance(value, Counter):
                return {key: n for key, n in value.items() if n}
            if isinstance(value, Awaiting):
                return list(value.by_match_time)
            if isinstance(value, Figures):
                return {name: plain(item) for name, item in vars(value).items()}
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            return value

        with self.lock:
            return deepcopy(
                {
                    "subsidiaries": {slug: plain(vars(sub)) for slug, sub in self.subsidiaries.items()},
                    **{name: plain(value) for name, value in vars(self).items() if name not in ("app", "lock", "position", "subsidiaries")},
                }
            )


def _member(rel: dict[str, Any], participant_id: str) -> bool:
    """Whether the relationship's free text goes with this participant's erasure (domain.text_goes_with)."""
    return text_goes_with(participant_id, rel["mentor_id"], rel["mentee_ids"], rel["format"], rel["status"])


_AFTER_ANY_ID = "\U0010ffff"


class Awaiting:
    """The active relationships with nothing booked, in the order of their match: those
    matched before a given time are found by bisection, not by a scan."""

    def __init__(self) -> None:
        self.matched_at: dict[str, datetime] = {}
        self.by_match_time: SortedList = SortedList()  # (matched at, id): ties in id order

    def add(self, relationship_id: str, matched_at: datetime) -> None:
        if relationship_id not in self.matched_at:
            self.matched_at[relationship_id] = matched_at
            self.by_match_time.add((matched_at, relationship_id))

    def discard(self, relationship_id: str) -> None:
        matched_at = self.matched_at.pop(relationship_id, None)
        if matched_at is not None:
            self.by_match_time.remove((matched_at, relationship_id))

    def count_since_before(self, cutoff: datetime) -> int:
        return self.by_match_time.bisect_right((cutoff, _AFTER_ANY_ID))

    def since_before(self, cutoff: datetime, limit: int | None = None) -> list[str]:
        """Those matched at or before `cutoff`, the longest waiting first."""
        count = self.count_since_before(cutoff)
        return [relationship_id for _, relationship_id in self.by_match_time.islice(0, count if limit is None else min(count, limit))]

    def waiting_since_before(self, relationship_id: str, cutoff: datetime) -> bool:
        matched_at = self.matched_at.get(relationship_id)
        return matched_at is not None and matched_at <= cutoff


class _Recount:
    """Around a change to a participant (or to their relationships): takes their share of
    the figures out before, and puts it back after."""

    def __init__(self, sub: Subsidiary, person: dict[str, Any]) -> None:
        self.sub = sub
        self.person = person

    def __enter__(self) -> dict[str, Any]:
        self._count(-1)
        return self.person

    def __exit__(self, *exc: object) -> None:
        self._count(+1)

    def _count(self, sign: int) -> None:
        person, figures = self.person, self.sub.figures
        if person["withdrawn"] or person["role"] is None:
            return
        if person["role"] == MENTOR:
            figures.mentors += sign
            figures.certified_mentors += sign * int(person["certified"])
        else:
            figures.mentees += sign
            figures.matched_mentees += sign * int(self.sub.open_relationships[person["id"]] > 0)
