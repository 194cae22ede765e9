"""Enrolment's domain model: subsidiaries with their programme, and participants.

No I/O here. Aggregates record what happened as events; every event carries a `context`
(the subsidiary, who acted, and the request that caused it) because auditors need it and
the event store has no metadata of its own. The caller sets it (services.common.context
`acting`); the events read it.
"""

import hashlib
import hmac
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate as LibraryAggregate
from eventsourcing.domain import event

from contracts.enrolment import canonical_theme
from services.common.context import Aggregate
from services.common.errors import Reason

# Fixes the ids derived from names (a subsidiary's slug; a claimed email before claims were
# keyed): the same name always gives the same aggregate id, so the event store itself refuses
# duplicates.
NAMESPACE = UUID("7d6f0c1e-3b0a-4f43-9d35-5a8e2f4f7c11")

DEFAULT_THEMES = [
    "information search",
    "networking",
    "managing one's data on social networks",
    "online learning",
]
DEFAULT_PROGRAMME: dict[str, Any] = {
    "themes": DEFAULT_THEMES,
    "mentor_capacity": 5,
    "mini_session_max": 10,
    "target_sessions": 5,
    "session_minutes": 90,
    "min_age_gap": 1,
}
MENTOR, MENTEE = "mentor", "mentee"


class ParticipantStatus(StrEnum):
    ENROLLED = "enrolled"
    CERTIFIED = "certified"  # a mentor trained in pedagogy: may be matched
    WITHDRAWN = "withdrawn"


ENROLLED, CERTIFIED, WITHDRAWN = ParticipantStatus  # (stored as their plain values)
PERSONAL_FIELDS = ("name", "email", "birth_year", "manager_email")
ERASURE_REASON = "personal data erased"


class EnrolmentError(Exception):
    """A command the domain refuses: `reason` says why (a stable code, its parameters)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


WITHDRAWN_ALREADY = Reason("participant_withdrawn", "this participant has withdrawn")


class Subsidiary(Aggregate):
    @staticmethod
    def create_id(slug: str, **_: Any) -> UUID:
        return subsidiary_id(slug)

    # Its events are declared, not left to @event to make from the methods' signatures, so
    # that mypy knows them (the library subclasses each; names and topics are unchanged).
    class Onboarded(Aggregate.Created):
        slug: str
        name: str
        timezone: str
        locale: str

    class ProgrammeConfigured(Aggregate.Event):
        settings: dict[str, Any]

    @event(Onboarded)
    def __init__(self, slug: str, name: str, timezone: str, locale: str) -> None:
        self.slug = slug
        self.name = name
        self.timezone = timezone
        self.locale = locale
        self.programme: dict[str, Any] = {}

    def configure_programme(self, settings: dict[str, Any]) -> None:
        """Setting the programme it already has records nothing (a PUT repeated is a no-op)."""
        if settings != self.programme:
            self._programme_configured(settings=settings)

    @event(ProgrammeConfigured)
    def _programme_configured(self, settings: dict[str, Any]) -> None:
        self.programme = settings

    @property
    def themes(self) -> list[str]:
        return list(self.programme.get("themes", []))

    def canonical_theme(self, name: str) -> str | None:
        return canonical_theme(self.themes, name)


class Participant(Aggregate):
    """A mentor or a mentee in one subsidiary's programme.

    `profile` has the shape of the published profile: role, personal_data (name, email,
    birth_year, manager_email), department, site, languages, themes (ranked), availability.
    Once the participant's personal data is erased, those four read as None.
    """

    class Enrolled(Aggregate.Created):
        subsidiary_id: str
        profile: dict[str, Any]

    class Certified(Aggregate.Event):
        pass

    class ProfileUpdated(Aggregate.Event):
        profile: dict[str, Any]
        changed: list[str]

    class Withdrawn(Aggregate.Event):
        reason: str
        role: str

    class Erased(Aggregate.Event):
        pass

    @event(Enrolled)
    def __init__(self, subsidiary_id: str, profile: dict[str, Any]) -> None:
        self.subsidiary_id = subsidiary_id
        self.profile = profile
        self.status = ENROLLED
        self.erased = False

    @property
    def role(self) -> str:
        return str(self.profile["role"])

    @property
    def email(self) -> str | None:
        email = self.profile["personal_data"]["email"]
        return None if email is None else str(email)  # None once erased

    def certify(self) -> bool:
        """The mentor finished the pedagogy training. Returns False when already certified."""
        if self.role != MENTOR:
            raise EnrolmentError(Reason("not_a_mentor", "only mentors are certified; this participant is a mentee", {"role": self.role}))
        if self.status == WITHDRAWN:
            raise EnrolmentError(WITHDRAWN_ALREADY)
        if self.status == CERTIFIED:
            return False
        self._certified()
        return True

    @event(Certified)
    def _certified(self) -> None:
        self.status = CERTIFIED

    def update_profile(self, changes: dict[str, Any]) -> list[str]:
        """Apply the given fields (flat names); returns the names that really changed."""
        if self.status == WITHDRAWN:
            raise EnrolmentError(WITHDRAWN_ALREADY)
        profile = {**self.profile, "personal_data": dict(self.profile["personal_data"])}
        changed = []
        for field, value in changes.items():
            holder = profile["personal_data"] if field in PERSONAL_FIELDS else profile
            if holder.get(field) != value:
                holder[field] = value
                changed.append(field)
        if changed:
            self._profile_updated(profile=profile, changed=changed)
        return changed

    @event(ProfileUpdated)
    def _profile_updated(self, profile: dict[str, Any], changed: list[str]) -> None:
        self.profile = profile

    def withdraw(self, reason: str) -> None:
        if self.status == WITHDRAWN:
            raise EnrolmentError(Reason("already_withdrawn", "this participant has already withdrawn"))
        self._withdrawn(reason=reason, role=self.role)

    @event(Withdrawn)
    def _withdrawn(self, reason: str, role: str) -> None:
        self.status = WITHDRAWN

    def erase_personal_data(self) -> bool:
        """The right to erasure. A participant still taking part withdraws first, so that no
        rule ever needs their data again. Returns False when already erased."""
        if self.erased:
            return False
        if self.status != WITHDRAWN:
            self._withdrawn(reason=ERASURE_REASON, role=self.role)
        self._erased()
        return True

    @event(Erased)
    def _erased(self) -> None:
        # Their key is destroyed next: every stored copy of these reads as None from then on.
        self.profile = {**self.profile, "personal_data": dict.fromkeys(PERSONAL_FIELDS)}
        self.erased = True


class EmailClaim(LibraryAggregate):
    """Keeps a work email unique among a subsidiary's active participants.

    Its id is derived from the subsidiary and the email with a keyed hash (`email_claim_id`:
    HMAC-SHA256 under a secret kept outside the event store), so two enrolments racing for one
    email cannot both be saved, and nobody without the secret can tell from a guessed email
    whether it has a claim. Neither the email nor, since claims were keyed, the participant
    who holds it is stored here: a claim is only held or free. (Claims made before then, with
    a uuid5 id, name their participant: that id reads as None once they are erased.) Its events
carry no context either (the library's aggregate, not services.common.context's): the
enrolment's correlation id would tie the claim to its participant."""

    class Claimed(LibraryAggregate.Created):
        participant_id: UUID | None
        subsidiary_id: str | None

    class ClaimedAgain(LibraryAggregate.Event):
        participant_id: UUID | None

    class Released(LibraryAggregate.Event):
        pass

    @event(Claimed)
    def __init__(self, participant_id: UUID | None = None, subsidiary_id: str | None = None, id: UUID | None = None) -> None:  # noqa: A002 - the library's name
        self.held = True
        self.subsidiary_id = subsidiary_id  # the audit chain its events join (None in claims made before it was kept)

    @property
    def is_held(self) -> bool:
        return self.held

    def claim(self) -> None:
        if self.is_held:
            raise EnrolmentError(Reason("already_enrolled", "this email is already enrolled"))
        self._claimed_again()

    @event(ClaimedAgain)
    def _claimed_again(self, participant_id: UUID | None = None) -> None:
        self.held = True

    @event(Released)
    def release(self) -> None:
        self.held = False


# Where each stored event holds personal data, and whose: sealed with that participant's key
# when stored (services/common/personal_data.py). {event class: {path: path of the participant id}}
_PROFILE = {f"profile.personal_data.{field}": "originator_id" for field in PERSONAL_FIELDS}
PERSONAL_DATA: dict[type, dict[str, str]] = {
    Participant.Enrolled: _PROFILE,
    Participant.ProfileUpdated: _PROFILE,
    # Their own words, sealed with their key (null once erased).
    Participant.Withdrawn: {"reason": "originator_id"},
    # Claims made before claims were keyed (uuid5 ids) name their holder in plaintext (new ones
    # hold no participant id): erasing the holder tombstones the claim's id in the key store,
    # and from then on that id reads as None, so the claim no longer leads to them.
    EmailClaim.Claimed: {"participant_id": "originator_id"},
    EmailClaim.ClaimedAgain: {"participant_id": "originator_id"},
}


def subsidiary_id(slug: str) -> UUID:
    return uuid5(NAMESPACE, f"subsidiary:{slug}")


def email_claim_id(secret: str | bytes, subsidiary_slug: str, email: str) -> UUID:
    """The claim's id: HMAC-SHA256 of the subsidiary and the normalised email under the secret
    (TANDEM_EMAIL_CLAIM_SECRET), as a UUID. Without the secret nobody can compute it."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"email:{subsidiary_slug}:{email.casefold()}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def legacy_email_claim_id(subsidiary_slug: str, email: str) -> UUID:
    """The id claims had before they were keyed (a uuid5 of a public constant): still looked
    up, so that an email enrolled then is not enrolled twice."""
    return uuid5(NAMESPACE, f"email:{subsidiary_slug}:{email.casefold()}")
