"""One subsidiary's programme as it stood, folded from the published integration events.

The auditor's view of the programme is computed from what the services published, never
from their read models: feed `ProgrammeState` the events up to a moment (from the topics,
or made from the event stores by each service's `to_integration_event`) and `as_dict()`
says who was enrolled, matched, in which relationship, and which sessions were held.

Kafka delivers at least once and each producer's topic is read on its own, so:
- an event seen again (same `event_id`) changes nothing;
- each producer's events arrive in their own order, but enrolment's, matching's and
  sessions' may interleave in any way. Each producer's events are therefore folded into
  state of their own (participants from enrolment, matches from matching, relationships
  and sessions from sessions), and only `as_dict()` joins them, so the result does not
  depend on the interleaving.
"""

from collections import Counter
from datetime import datetime
from typing import Any

from contracts import IntegrationEvent
from contracts.personal import is_token

ENROLLED, CERTIFIED, WITHDRAWN = "enrolled", "certified", "withdrawn"
CONFIRMED, DECLINED, ENDED, COMPLETED = "confirmed", "declined", "ended", "completed"
OPEN, CLOSED = "open", "closed"  # a relationship's status: open, completed or closed
ROLES = ("mentor", "mentee")


class ProgrammeState:
    def __init__(self, subsidiary_id: str, as_of: datetime | None = None) -> None:
        """`as_of`: events that occurred after it are ignored (None: every event counts)."""
        self.subsidiary_id = subsidiary_id
        self.as_of = as_of
        self.seen: set[str] = set()
        self.subsidiary: dict[str, Any] = {"id": subsidiary_id, "name": None, "timezone": None, "onboarded_at": None}
        self.programme: dict[str, Any] | None = None
        self.participants: dict[str, dict[str, Any]] = {}  # from enrolment
        self.matches: dict[str, dict[str, Any]] = {}  # from matching
        self.relationships: dict[str, dict[str, Any]] = {}  # from sessions
        self.sessions: dict[str, dict[str, Any]] = {}  # from sessions: every scheduled session
        self.completed_matches: set[str] = set()  # from sessions: matches whose relationship completed

    def apply(self, event: IntegrationEvent) -> None:
        if event.subsidiary_id != self.subsidiary_id or str(event.event_id) in self.seen:
            return
        if self.as_of is not None and event.occurred_at > self.as_of:
            return
        self.seen.add(str(event.event_id))
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:  # the types the programme's state does not need are skipped
            # Times as the wire has them (pydantic's JSON), like the payloads' own times.
            at = event.model_dump(mode="json", include={"occurred_at"})["occurred_at"]
            handler(event.payload.model_dump(mode="json"), at)

    # -- enrolment --------------------------------------------------------------------------

    def _on_SubsidiaryOnboarded(self, p: dict[str, Any], at: str) -> None:
        self.subsidiary.update(name=p["name"], timezone=p["timezone"], onboarded_at=at)

    def _on_ProgrammeConfigured(self, p: dict[str, Any], at: str) -> None:
        self.programme = p

    def _on_ParticipantEnrolled(self, p: dict[str, Any], at: str) -> None:
        self.participants[p["participant_id"]] = {
            "participant_id": p["participant_id"],
            "role": p["role"],
            "status": ENROLLED,
            "erased": False,
            "name": _name(p),
            "enrolled_at": at,
        }

    def _on_ParticipantProfileUpdated(self, p: dict[str, Any], at: str) -> None:
        person = self._participant(p["participant_id"])
        if not person["erased"]:
            person["name"] = _name(p)

    def _on_MentorCertified(self, p: dict[str, Any], at: str) -> None:
        self._participant(p["participant_id"])["status"] = CERTIFIED

    def _on_ParticipantWithdrawn(self, p: dict[str, Any], at: str) -> None:
        self._participant(p["participant_id"])["status"] = WITHDRAWN

    def _on_ParticipantErased(self, p: dict[str, Any], at: str) -> None:
        self._participant(p["participant_id"]).update(erased=True, name=None)

    def _participant(self, participant_id: str) -> dict[str, Any]:
        """Enrolment publishes the enrolment first; this only guards against a gap in the topic."""
        return self.participants.setdefault(
            participant_id,
            {"participant_id": participant_id, "role": None, "status": None, "erased": False, "name": None, "enrolled_at": None},
        )

    # -- matching ---------------------------------------------------------------------------

    def _on_MatchConfirmed(self, p: dict[str, Any], at: str) -> None:
        self.matches[p["match_id"]] = {
            "match_id": p["match_id"],
            "format": p["format"],
            "mentor_id": p["mentor_id"],
            "mentee_ids": list(p["mentee_ids"]),
            "theme": p["theme"],
            "status": CONFIRMED,
            "reason": None,
            "confirmed_at": at,
            "ended_at": None,
            "member_changes": [],
        }

    def _on_MatchDeclined(self, p: dict[str, Any], at: str) -> None:
        # The reason is sealed with the match's key: null once a member is erased.
        self._end_match(p, DECLINED, f"declined by {p['by']}" + (f": {p['reason']}" if p.get("reason") else ""), at)

    def _on_MatchEnded(self, p: dict[str, Any], at: str) -> None:
        self._end_match(p, ENDED, p["reason"], at)

    def _on_MatchCompleted(self, p: dict[str, Any], at: str) -> None:
        self._end_match(p, COMPLETED, p.get("reason"), at)

    def _on_MatchMemberLeft(self, p: dict[str, Any], at: str) -> None:
        match = self.matches.get(p["match_id"])
        if match is not None:
            match["mentee_ids"] = list(p["mentee_ids"])
            match["member_changes"].append({"participant_id": p["participant_id"], "change": "left", "reason": p["reason"], "at": at})

    def _end_match(self, p: dict[str, Any], status: str, reason: str | None, at: str) -> None:
        match = self.matches.get(p["match_id"])
        if match is not None:
            match.update(status=status, reason=reason, ended_at=at)

    # -- sessions ---------------------------------------------------------------------------

    def _on_RelationshipOpened(self, p: dict[str, Any], at: str) -> None:
        self.relationships[p["relationship_id"]] = {
            "relationship_id": p["relationship_id"],
            "match_id": p["match_id"],
            "format": p["format"],
            "mentor_id": p["mentor_id"],
            "mentee_ids": list(p["mentee_ids"]),
            "theme": p["theme"],
            "status": OPEN,
            "reason": None,
            "target_sessions": p["target_sessions"],
            "opened_at": at,
            "ended_at": None,
            "member_changes": [],
        }

    def _on_RelationshipCompleted(self, p: dict[str, Any], at: str) -> None:
        self.completed_matches.add(p["match_id"])
        self._end_relationship(p, COMPLETED, None, at)

    def _on_RelationshipClosed(self, p: dict[str, Any], at: str) -> None:
        self._end_relationship(p, CLOSED, p["reason"], at)

    def _on_RelationshipMemberLeft(self, p: dict[str, Any], at: str) -> None:
        rel = self.relationships.get(p["relationship_id"])
        if rel is not None:
            if p["participant_id"] in rel["mentee_ids"]:
                rel["mentee_ids"].remove(p["participant_id"])
            rel["member_changes"].append({"participant_id": p["participant_id"], "change": "left", "reason": p["reason"], "at": at})

    def _end_relationship(self, p: dict[str, Any], status: str, reason: str | None, at: str) -> None:
        rel = self.relationships.get(p["relationship_id"])
        if rel is not None:
            rel.update(status=status, reason=reason, ended_at=at)

    def _on_SessionScheduled(self, p: dict[str, Any], at: str) -> None:
        self.sessions[p["session_id"]] = {
            "session_id": p["session_id"],
            "relationship_id": p["relationship_id"],
            "theme": p["theme"],
            "when": p["starts_at"],
            "held": False,
            "held_recorded_at": None,
        }

    def _on_SessionRescheduled(self, p: dict[str, Any], at: str) -> None:
        session = self.sessions.get(p["session_id"])
        if session is not None:
            session["when"] = p["starts_at"]

    def _on_SessionHeld(self, p: dict[str, Any], at: str) -> None:
        session = self.sessions.setdefault(
            p["session_id"], {"session_id": p["session_id"], "relationship_id": p["relationship_id"], "theme": p["theme"], "when": None}
        )
        session.update(held=True, held_recorded_at=at)

    # -- the result -------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The programme as plain JSON data, every list sorted: the same events give the
        same dict whatever order they came in."""
        participants = {pid: dict(person) for pid, person in self.participants.items()}
        for member_id, role in self._members():
            # Named by a match or a relationship before enrolment's event arrived: unknown.
            participants.setdefault(
                member_id,
                {"participant_id": member_id, "role": role, "status": None, "erased": False, "name": None, "enrolled_at": None},
            )
        matches = [
            {
                **match,
                "mentee_ids": sorted(match["mentee_ids"]),
                # Matching ends a match when its relationship completes: that end is a completion.
                "status": COMPLETED if match["status"] == ENDED and match["match_id"] in self.completed_matches else match["status"],
                "member_changes": [dict(c) for c in match["member_changes"]],
            }
            for match in self.matches.values()
        ]
        held = [
            {k: s[k] for k in ("session_id", "relationship_id", "theme", "when", "held_recorded_at")}
            for s in self.sessions.values()
            if s["held"]
        ]
        held_by_relationship = Counter(s["relationship_id"] for s in held)
        relationships = [
            {
                **rel,
                "mentee_ids": sorted(rel["mentee_ids"]),
                "sessions_held": held_by_relationship[rel["relationship_id"]],
                "member_changes": [dict(c) for c in rel["member_changes"]],
            }
            for rel in self.relationships.values()
        ]
        people = sorted(participants.values(), key=lambda p: p["participant_id"])
        by_role_status: dict[str, dict[str, int]] = {
            role: {status: 0 for status in (ENROLLED, CERTIFIED, WITHDRAWN)} for role in ROLES
        }
        for person in people:
            if person["role"] in by_role_status and person["status"] is not None:
                by_role_status[person["role"]][person["status"]] += 1
        return {
            "subsidiary": dict(self.subsidiary),
            "programme": self.programme,
            "participants": people,
            "matches": sorted(matches, key=lambda m: m["match_id"]),
            "relationships": sorted(relationships, key=lambda r: r["relationship_id"]),
            "sessions_held": sorted(held, key=lambda s: (s["when"] or "", s["session_id"])),
            "counts": {
                "participants": by_role_status,
                "participants_erased": sum(p["erased"] for p in people),
                "participants_unknown": sum(p["status"] is None for p in people),
                "matches": _by_status([m["status"] for m in matches], (CONFIRMED, DECLINED, ENDED, COMPLETED)),
                "relationships": _by_status([r["status"] for r in relationships], (OPEN, COMPLETED, CLOSED)),
                "sessions_held": len(held),
            },
        }

    def _members(self) -> list[tuple[str, str]]:
        """(participant, role) of everyone a match or a relationship names."""
        members = []
        for holder in (*self.matches.values(), *self.relationships.values()):
            members.append((holder["mentor_id"], "mentor"))
            members += [(m, "mentee") for m in holder["mentee_ids"]]
            members += [(c["participant_id"], "mentee") for c in holder["member_changes"]]
        return members


def _name(payload: dict[str, Any]) -> str | None:
    """The name in a profile; None when the personal data is not readable here (sealed)."""
    personal = payload.get("personal_data")
    name = personal.get("name") if isinstance(personal, dict) else None
    return name if isinstance(name, str) and not is_token(name) else None


def _by_status(statuses: list[str], known: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(statuses)
    return {status: counts[status] for status in (*known, *sorted(set(counts) - set(known)))}
