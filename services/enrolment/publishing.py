"""What enrolment publishes: its stored domain events translated into integration events."""

from typing import Any
from uuid import UUID, uuid5

from contracts import IntegrationEvent
from contracts import enrolment as published
from services.enrolment.domain import NAMESPACE, EmailClaim, Participant, Subsidiary


def event_id(domain_event: Any) -> UUID:
    """The same stored event always gets the same id, however often it is published."""
    return uuid5(NAMESPACE, f"{published.PRODUCER}:{domain_event.originator_id}:{domain_event.originator_version}")


def to_integration_event(e: Any) -> IntegrationEvent | None:
    if isinstance(e, EmailClaim.Event):
        return None  # uniqueness bookkeeping, not part of the published language
    envelope = {
        "event_id": event_id(e),
        "subsidiary_id": e.context["subsidiary_id"],
        "occurred_at": e.timestamp,
        "producer": published.PRODUCER,
        "actor": e.context["actor"],
        "correlation_id": e.context["correlation_id"],
        "causation_id": e.context.get("causation_id"),
    }
    match e:
        case Subsidiary.Onboarded():
            return published.SubsidiaryOnboarded(
                **envelope, payload={"name": e.name, "timezone": e.timezone, "locale": e.locale}
            )
        case Subsidiary.ProgrammeConfigured():
            return published.ProgrammeConfigured(**envelope, payload=e.settings)
        case Participant.Enrolled():
            return published.ParticipantEnrolled(**envelope, payload={**e.profile, "participant_id": e.originator_id})
        case Participant.Certified():
            return published.MentorCertified(**envelope, payload={"participant_id": e.originator_id})
        case Participant.ProfileUpdated():
            return published.ParticipantProfileUpdated(
                **envelope, payload={**e.profile, "participant_id": e.originator_id, "changed": e.changed}
            )
        case Participant.Withdrawn():
            return published.ParticipantWithdrawn(
                **envelope, payload={"participant_id": e.originator_id, "role": e.role, "reason": e.reason}
            )
    raise TypeError(f"no integration event for {type(e).__qualname__}")
