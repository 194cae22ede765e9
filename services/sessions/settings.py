"""Sessions' settings, from the environment."""

from pydantic import Field

from services.common.settings import ServiceSettings


class SessionsSettings(ServiceSettings):
    host: str = Field("127.0.0.1", validation_alias="SESSIONS_HOST")
    port: int = Field(8003, validation_alias="SESSIONS_PORT")
    consumer_group: str = Field("tandem-sessions", validation_alias="SESSIONS_CONSUMER_GROUP")
