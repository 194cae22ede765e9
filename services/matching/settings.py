"""Matching's settings, from the environment."""

from pydantic import Field

from services.common.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    host: str = Field("127.0.0.1", validation_alias="MATCHING_HOST")
    port: int = Field(8002, validation_alias="MATCHING_PORT")
    consumer_group: str = Field("tandem-matching", validation_alias="MATCHING_CONSUMER_GROUP")
