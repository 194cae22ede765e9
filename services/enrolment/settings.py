"""Enrolment's settings, from the environment."""

from pydantic import Field

from services.common.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    host: str = Field("127.0.0.1", validation_alias="ENROLMENT_HOST")
    port: int = Field(8001, validation_alias="ENROLMENT_PORT")
