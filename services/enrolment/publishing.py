"""What enrolment publishes: its stored domain events translated into integration events."""

from typing import Any

from contracts import IntegrationEvent
from contracts import enrolment as published
from services.common.publishing import envelope as envelope_of
from services.enrolment.domain import NAMESPACE, EmailClaim, Participant, Subsidiary


def to_integration_event(e: Any) -> IntegrationEvent | None:
    if isinstance(e, EmailClaim.Event):
        return None  # uniqueness bookkeeping, not part of the published language
    envelope = envelope_of(e, published.PRODUCER, NAMESPACE)
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
        case Participant.Erased():
            return published.ParticipantErased(**envelope, payload={"participant_id": e.originator_id})
    raise TypeError(f"no integration event for {type(e).__qualname__}")
