"""Enrolment's read model: subsidiaries and participants as listed by the API."""

from copy import deepcopy
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from services.common.view import LogFollowingView
from services.enrolment.domain import CERTIFIED, PERSONAL_FIELDS, WITHDRAWN, EmailClaim, Participant, Subsidiary


class EnrolmentView(LogFollowingView):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.subsidiaries: dict[str, dict[str, Any]] = {}
        self.participants: dict[str, dict[UUID, dict[str, Any]]] = {}  # by subsidiary, then id
        self.subsidiary_of: dict[UUID, str] = {}
        self.claims: dict[UUID, bool] = {}  # email claim id -> held?

    # -- queries (callers hold no lock: each returns copies) -------------------------------

    def list_subsidiaries(self, only: str | None = None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            return [dict(s) for slug, s in sorted(self.subsidiaries.items()) if only is None or slug == only]

    def subsidiary(self, slug: str) -> dict[str, Any] | None:
        self.catch_up()
        with self.lock:
            found = self.subsidiaries.get(slug)
            return dict(found) if found else None

    def list_participants(self, slug: str, role: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        self.catch_up()
        with self.lock:
            return [
                dict(p)
                for p in self.participants.get(slug, {}).values()
                if (role is None or p["role"] == role) and (status is None or p["status"] == status)
            ]

    def participant(self, slug: str, participant_id: UUID) -> dict[str, Any] | None:
        self.catch_up()
        with self.lock:
            found = self.participants.get(slug, {}).get(participant_id)
            return dict(found) if found else None

    def claims_held(self, claim_ids: set[UUID]) -> set[UUID]:
        """Those of the given email claims that are held now."""
        self.catch_up()
        return self.held_as_of_last_catch_up(claim_ids)

    def held_as_of_last_catch_up(self, claim_ids: set[UUID]) -> set[UUID]:
        """The same, without reading the store again: for a command that caught the view up
        once for many claims (an import's 10,000 took 0.7 s of catching up, one by one)."""
        with self.lock:
            return {claim_id for claim_id in claim_ids if self.claims.get(claim_id)}

    def ever_claimed(self, claim_id: UUID) -> bool:
        """A claim that exists (held or released) is claimed again, not created."""
        with self.lock:
            return claim_id in self.claims

    # -- projection ---------------------------------------------------------------------

    @singledispatchmethod
    def apply(self, domain_event: Any) -> None:
        """Events this view does not show are skipped."""

    @apply.register
    def _(self, e: Subsidiary.Onboarded) -> None:
        self.subsidiaries[e.slug] = {
            "id": e.slug,
            "name": e.name,
            "timezone": e.timezone,
            "locale": e.locale,
            "programme": None,
            "onboarded_at": e.timestamp,
        }
        self.participants.setdefault(e.slug, {})

    @apply.register
    def _(self, e: Subsidiary.ProgrammeConfigured) -> None:
        self.subsidiaries[e.context["subsidiary_id"]]["programme"] = e.settings

    @apply.register
    def _(self, e: Participant.Enrolled) -> None:
        self.subsidiary_of[e.originator_id] = e.subsidiary_id
        self.participants.setdefault(e.subsidiary_id, {})[e.originator_id] = {
            "id": e.originator_id,
            "subsidiary_id": e.subsidiary_id,
            **_flat(e.profile),
            "status": "enrolled",
            "enrolled_at": e.timestamp,
            "certified_at": None,
            "withdrawn_at": None,
            "withdrawal_reason": None,
            "personal_data_erased": False,
            "version": e.originator_version,
        }

    @apply.register
    def _(self, e: Participant.Certified) -> None:
        self._update(e, status=CERTIFIED, certified_at=e.timestamp)

    @apply.register
    def _(self, e: Participant.ProfileUpdated) -> None:
        self._update(e, **_flat(e.profile))

    @apply.register
    def _(self, e: Participant.Withdrawn) -> None:
        self._update(e, status=WITHDRAWN, withdrawn_at=e.timestamp, withdrawal_reason=e.reason)

    @apply.register
    def _(self, e: Participant.Erased) -> None:
        self._update(e, **dict.fromkeys(PERSONAL_FIELDS), withdrawal_reason=None, personal_data_erased=True)

    @apply.register
    def _(self, e: EmailClaim.Claimed) -> None:
        self.claims[e.originator_id] = True

    @apply.register
    def _(self, e: EmailClaim.ClaimedAgain) -> None:
        self.claims[e.originator_id] = True

    @apply.register
    def _(self, e: EmailClaim.Released) -> None:
        self.claims[e.originator_id] = False

    def _update(self, e: Any, **changes: Any) -> None:
        row = self.participants[self.subsidiary_of[e.originator_id]][e.originator_id]
        row.update(changes, version=e.originator_version)

    # -- for replay ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything the projection keeps (all but the app, the lock and the position), as
        a copy: replay compares a view rebuilt from the store with this one."""
        with self.lock:
            return deepcopy({name: value for name, value in vars(self).items() if name not in ("app", "lock", "position")})


def _flat(profile: dict[str, Any]) -> dict[str, Any]:
    """The stored profile keeps personal data apart; the API shows it flat."""
    rest = {k: v for k, v in profile.items() if k != "personal_data"}
    return {**profile["personal_data"], **rest}
