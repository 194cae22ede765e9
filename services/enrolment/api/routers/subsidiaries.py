"""Subsidiaries and their programme."""

from typing import Any

from fastapi import APIRouter, status

from contracts.enrolment import ProgrammeSettings
from services.common.auth import CurrentPrincipal, GroupAdmin, SubsidiaryReader, SubsidiaryWriter
from services.common.errors import NotFound
from services.common.http import BODY_ERROR_RESPONSES, ERROR_RESPONSES, JSON_BODY, Acting
from services.enrolment.api.deps import Enrolment
from services.enrolment.api.schemas import ProgrammeIn, SubsidiaryIn, SubsidiaryOut

router = APIRouter(prefix="/subsidiaries", tags=["subsidiaries"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*JSON_BODY, Acting],
    summary="Onboard a subsidiary (group admin)",
    responses={**BODY_ERROR_RESPONSES, 409: {"description": "`already_onboarded`: a subsidiary with this id is already onboarded"}},
)
def onboard_subsidiary(body: SubsidiaryIn, _: GroupAdmin, enrolment: Enrolment) -> SubsidiaryOut:
    enrolment.onboard_subsidiary(body.id, body.name, body.timezone, body.locale)
    return _subsidiary(enrolment, body.id)


@router.get("", summary="The subsidiaries this token may see")
def list_subsidiaries(principal: CurrentPrincipal, enrolment: Enrolment) -> list[SubsidiaryOut]:
    return [SubsidiaryOut(**s) for s in enrolment.view.list_subsidiaries(only=principal.subsidiary)]


@router.get("/{subsidiary_id}", summary="One subsidiary with its programme")
def get_subsidiary(subsidiary_id: str, _: SubsidiaryReader, enrolment: Enrolment) -> SubsidiaryOut:
    return _subsidiary(enrolment, subsidiary_id)


@router.get("/{subsidiary_id}/programme", summary="The programme's settings")
def get_programme(subsidiary_id: str, _: SubsidiaryReader, enrolment: Enrolment) -> ProgrammeSettings:
    return _subsidiary(enrolment, subsidiary_id).programme  # type: ignore[return-value]  # a dict: FastAPI validates it as the model


@router.put(
    "/{subsidiary_id}/programme",
    dependencies=[*JSON_BODY, Acting],
    responses=BODY_ERROR_RESPONSES,
    summary="Configure the programme: themes, capacities, session targets, age rule",
)
def configure_programme(
    subsidiary_id: str, body: ProgrammeIn, _: SubsidiaryWriter, enrolment: Enrolment
) -> ProgrammeSettings:
    settings: dict[str, Any] = body.model_dump(mode="json")
    enrolment.configure_programme(subsidiary_id, settings)
    return ProgrammeSettings(**settings)


def _subsidiary(enrolment: Any, slug: str) -> SubsidiaryOut:
    found = enrolment.view.subsidiary(slug)
    if found is None:
        raise NotFound(f"subsidiary {slug!r} not found")
    return SubsidiaryOut(**found)
