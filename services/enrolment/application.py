"""Enrolment's application service: load, call the domain, save. One method per command."""

import logging
from collections import Counter
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from services.common.application import ServiceApplication
from services.common.context import acting
from services.common.errors import Conflict, Invalid, NotFound, Problem, Reason
from services.common.settings import email_claim_secret
from services.enrolment.domain import (
    DEFAULT_PROGRAMME,
    PERSONAL_DATA,
    WITHDRAWN,
    EmailClaim,
    EnrolmentError,
    Participant,
    Subsidiary,
    email_claim_id,
    legacy_email_claim_id,
    subsidiary_id,
)
from services.enrolment.view import EnrolmentView

log = logging.getLogger(__name__)
ERASURES_PER_BATCH = 1000


# The email claims' key of in-memory stores (tests): one per process, like their key store.
_PROCESS_CLAIM_SECRET = token_urlsafe(48)


class EnrolmentApplication(ServiceApplication):
    name = "enrolment"  # also the prefix of its eventsourcing settings, e.g. ENROLMENT_SQLITE_DBNAME
    personal_data = PERSONAL_DATA

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.claim_secret = self._claim_secret()
        self.reapply_erasures()
        self.view = EnrolmentView(self)

    def views(self) -> tuple[EnrolmentView]:
        return (self.view,)

    def reapply_erasures(self) -> int:
        """Destroy again the key of every participant whose erasure this store records (the
        journal of erasures): a key store restored from a backup taken before an erasure, or
        a crash between recording one and destroying the key, must not leave a key behind.
        Only the erasure events are read, in batches. Returns how many rows it changed."""
        topic = get_topic(Participant.Erased)
        changed, start = 0, 1
        while rows := self.recorder.select_notifications(start, ERASURES_PER_BATCH, topics=(topic,)):
            mended = self.keys.store.destroy_all(str(row.originator_id) for row in rows)
            for subject in mended:
                self.keys.forget(subject)
            changed += len(mended)
            start = rows[-1].id + 1
        if changed:
            # The count only: which participants were erased is nobody's business in a log.
            log.warning("re-applied %d recorded erasure(s) the key store did not reflect (restored from a backup, or a crash before the key was destroyed)", changed)
        return changed

    def _claim_secret(self) -> str:
        """The email claims' key (TANDEM_EMAIL_CLAIM_SECRET, ..._FILE, or TANDEM_HOME's file);
        an in-memory store gets one for this process."""
        module = self.env.get("PERSISTENCE_MODULE") or ""
        if module not in ("eventsourcing.sqlite", "eventsourcing.postgres") and not (
            self.env.get("TANDEM_EMAIL_CLAIM_SECRET") or self.env.get("TANDEM_EMAIL_CLAIM_SECRET_FILE")
        ):
            return _PROCESS_CLAIM_SECRET
        sqlite = self.env.get("SQLITE_DBNAME") or ""
        beside = str(Path(sqlite).parent) if sqlite and sqlite != ":memory:" and not sqlite.startswith("file:") else ".tandem"
        return email_claim_secret(self.env.get, default_home=beside)

    def claim_ids(self, slug: str, email: str) -> tuple[UUID, UUID]:
        """The email's claim ids: the keyed one, and the one claims had before (uuid5)."""
        return email_claim_id(self.claim_secret, slug, email), legacy_email_claim_id(slug, email)

    # -- subsidiaries -------------------------------------------------------------------

    def onboard_subsidiary(self, slug: str, name: str, timezone: str, locale: str) -> None:
        with acting(subsidiary_id=slug):  # the request's path does not name it: its body does
            subsidiary = Subsidiary(slug=slug, name=name, timezone=timezone, locale=locale)
            # Every subsidiary starts with the original programme, so enrolment can begin at once.
            subsidiary.configure_programme(settings=DEFAULT_PROGRAMME)
        try:
            self.save(subsidiary)
        except IntegrityError:
            raise Conflict(Reason("already_onboarded", f"subsidiary {slug!r} is already onboarded", {"subsidiary_id": slug})) from None

    def configure_programme(self, slug: str, settings: dict[str, Any]) -> None:
        subsidiary = self.get_subsidiary(slug)
        subsidiary.configure_programme(settings=settings)
        if subsidiary.pending_events:
            self._save_or_conflict(subsidiary)

    def get_subsidiary(self, slug: str) -> Subsidiary:
        try:
            return self.repository.get(subsidiary_id(slug))
        except AggregateNotFoundError:
            raise NotFound(f"subsidiary {slug!r} not found") from None

    # -- participants -------------------------------------------------------------------

    def enrol(self, slug: str, profiles: list[dict[str, Any]]) -> list[UUID]:
        """Enrol every profile, or none: problems are reported with loc [index, field]."""
        subsidiary = self.get_subsidiary(slug)
        candidates = [{"themes": p["themes"], "email": p["personal_data"]["email"]} for p in profiles]
        problems = self._programme_problems(subsidiary, candidates)
        if problems:
            raise Invalid(problems)
        participants = [
            Participant(
                subsidiary_id=slug,
                profile={**p, "themes": [subsidiary.canonical_theme(t) for t in p["themes"]]},
            )
            for p in profiles
        ]
        claims = [self._claim_email(slug, str(p.email), p.id) for p in participants]  # the view caught up by the checks above
        self.keys.provide(p.id for p in participants)  # each a key of their own, made in one go
        try:
            # One transaction: all the participants with their email claims, or nothing.
            self.save(*participants, *claims)
        except IntegrityError:
            raise Conflict(Reason("changed_meanwhile", "an email was enrolled by another request meanwhile; nothing was recorded")) from None
        return [p.id for p in participants]

    def programme_problems(self, slug: str, candidates: list[dict[str, Any]]) -> list[Problem]:
        """What only the programme's state reveals: unknown or repeated themes, an email
        already enrolled or given twice. Each candidate may have `themes` and `email` (None
        when not known); problems are located as [index, field, ...]."""
        return self._programme_problems(self.get_subsidiary(slug), candidates)

    def certify(self, slug: str, participant_id: UUID) -> None:
        participant = self.get_participant(slug, participant_id)
        try:
            participant.certify()
        except EnrolmentError as exc:
            raise Conflict(exc.reason) from None
        self._save_or_conflict(participant)

    def update_profile(self, slug: str, participant_id: UUID, changes: dict[str, Any]) -> list[str]:
        participant = self.get_participant(slug, participant_id)
        if "themes" in changes:
            changes = {**changes, "themes": self._canonical_themes(self.get_subsidiary(slug), changes["themes"], ["themes"])}
        aggregates: list[Any] = [participant]
        if "email" in changes and changes["email"].casefold() != str(participant.email).casefold():
            # The new email must be free; the old one is released in the same transaction.
            self.view.catch_up()
            aggregates.append(self._claim_email(slug, changes["email"], participant.id))
            aggregates.append(self._released_claim(slug, str(participant.email)))
            aggregates = [a for a in aggregates if a is not None]
        try:
            changed = participant.update_profile(changes)
        except EnrolmentError as exc:
            raise Conflict(exc.reason) from None
        if changed:
            self._save_or_conflict(*aggregates)
        return changed

    def withdraw(self, slug: str, participant_id: UUID, reason: str) -> None:
        participant = self.get_participant(slug, participant_id)
        try:
            participant.withdraw(reason=reason)
        except EnrolmentError as exc:
            raise Conflict(exc.reason) from None
        # A withdrawn participant's email is free again: they may enrol anew later.
        released = self._released_claim(slug, str(participant.email))
        self._save_or_conflict(participant, *([released] if released is not None else []))

    def erase_personal_data(self, slug: str, participant_id: UUID) -> None:
        """The right to erasure: recorded (withdrawing the participant first if need be), then
        their key is destroyed, which erases every sealed copy of their data, in every
        service, store and topic. Their email's claim is released (it names nobody); a claim
        made before claims were keyed, which names them, has its id tombstoned in the key store
        first. Repeating it records nothing more and destroys the keys again (in case a crash
        came between)."""

        def record() -> None:
            participant = self.get_participant(slug, participant_id)
            aggregates: list[Any] = [participant]
            if participant.status != WITHDRAWN and participant.email is not None:
                released = self._released_claim(slug, participant.email)  # their email is free again
                if released is not None:
                    aggregates.append(released)
            if participant.erase_personal_data():
                self.save(*aggregates)

        self.get_participant(slug, participant_id)
        emails = self._emails_of(participant_id)  # read before their key goes (also when asked again)
        self.retrying(record)
        # A claim made before claims were keyed (uuid5 id) names its participant: its id is
        # tombstoned in the key store, so that the name reads as None from then on.
        self.view.catch_up()
        for email in emails:
            legacy = legacy_email_claim_id(slug, email)
            if self.view.ever_claimed(legacy):
                self.keys.erase(legacy)
        self.keys.erase(participant_id)
        self.forget_participant(participant_id)

    def _emails_of(self, participant_id: UUID) -> set[str]:
        """Every email the participant's events gave them, as they read now (none once erased)."""
        emails = set()
        for e in self.repository.event_store.get(participant_id):
            profile = getattr(e, "profile", None)
            email = profile["personal_data"].get("email") if isinstance(profile, dict) else None
            if email:
                emails.add(str(email).casefold())
        return emails

    def get_participant(self, slug: str, participant_id: UUID) -> Participant:
        try:
            participant: object = self.repository.get(participant_id)  # any aggregate may have this id: checked below
        except AggregateNotFoundError:
            participant = None
        if not isinstance(participant, Participant) or participant.subsidiary_id != slug:
            raise NotFound(f"participant {participant_id} not found")
        return participant

    # -- rules that need the programme's state ------------------------------------------

    def _programme_problems(self, subsidiary: Subsidiary, candidates: list[dict[str, Any]]) -> list[Problem]:
        problems: list[Problem] = []
        emails = Counter(c["email"].casefold() for c in candidates if c.get("email"))
        ids = {email: self.claim_ids(subsidiary.slug, email) for email in emails}
        held = self.view.claims_held({claim_id for pair in ids.values() for claim_id in pair})
        for index, candidate in enumerate(candidates):
            if candidate.get("themes") is not None:
                try:
                    self._canonical_themes(subsidiary, candidate["themes"], [index, "themes"])
                except Invalid as exc:
                    problems.extend(exc.problems)
            email = candidate.get("email")
            if not email:
                continue
            if emails[email.casefold()] > 1:
                problems.append(Problem([index, "email"], "this email appears more than once", "duplicate_email"))
            elif any(claim_id in held for claim_id in ids[email.casefold()]):
                problems.append(Problem([index, "email"], f"this email is already enrolled in {subsidiary.slug}", "already_enrolled", {"subsidiary_id": subsidiary.slug}))
        return problems

    @staticmethod
    def _canonical_themes(subsidiary: Subsidiary, themes: list[str], loc: list[str | int]) -> list[str]:
        problems, canonical = [], []
        for rank, theme in enumerate(themes):
            found = subsidiary.canonical_theme(theme)
            if found is None:
                problems.append(
                    Problem(
                        [*loc, rank],
                        f"unknown theme {theme!r}; the programme's themes are: {', '.join(subsidiary.themes)}",
                        "unknown_theme",
                        {"theme": theme, "themes": subsidiary.themes},
                    )
                )
            elif found in canonical:
                problems.append(Problem([*loc, rank], f"theme {found!r} is ranked twice", "duplicate_theme", {"theme": found}))
            else:
                canonical.append(found)
        if problems:
            raise Invalid(problems)
        return canonical

    def _claim_email(self, slug: str, email: str, participant_id: UUID) -> EmailClaim:
        """The email's claim, taken: its keyed claim, made or claimed again. A claim made
        before claims were keyed (uuid5 id) that is still held refuses it too. The caller
        caught the view up (a claim taken meanwhile elsewhere conflicts when saved)."""
        keyed, legacy = self.claim_ids(slug, email)
        already = Reason("already_enrolled", f"this email is already enrolled in {slug}", {"subsidiary_id": slug})
        if self.view.held_as_of_last_catch_up({legacy}):
            raise Conflict(already)
        if not self.view.ever_claimed(keyed):
            return EmailClaim(subsidiary_id=slug, id=keyed)
        claim: EmailClaim = self.repository.get(keyed)
        try:
            claim.claim()
        except EnrolmentError:
            raise Conflict(already) from None
        return claim

    def _released_claim(self, slug: str, email: str) -> EmailClaim | None:
        """The email's claim, released: the keyed one, or the one made before claims were
        keyed when that is the one held (None when the email holds neither)."""
        for claim_id in self.claim_ids(slug, email):
            if self.view.claims_held({claim_id}):
                claim: EmailClaim = self.repository.get(claim_id)
                claim.release()
                return claim
        return None

    def _save_or_conflict(self, *aggregates: Any) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            # Optimistic concurrency: another request changed the same aggregate first.
            raise Conflict(Reason("changed_meanwhile", "changed by another request meanwhile; nothing was recorded, try again")) from None
