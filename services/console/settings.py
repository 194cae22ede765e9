"""The console's settings, from the environment."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field("127.0.0.1", validation_alias="CONSOLE_HOST")
    port: int = Field(8000, validation_alias="CONSOLE_PORT")
    # The services' public APIs: the console calls them like any other client.
    enrolment_url: str = Field("http://127.0.0.1:8001", validation_alias="ENROLMENT_URL")
    matching_url: str = Field("http://127.0.0.1:8002", validation_alias="MATCHING_URL")
    sessions_url: str = Field("http://127.0.0.1:8003", validation_alias="SESSIONS_URL")
    # Behind HTTPS in production: the sign-in cookie is then only ever sent over HTTPS.
    secure_cookies: bool = Field(False, validation_alias="CONSOLE_SECURE_COOKIES")
    # Long operations (a CSV import of thousands of rows, a matching run) wait this long.
    service_timeout_seconds: float = Field(300.0, validation_alias="CONSOLE_SERVICE_TIMEOUT_SECONDS", gt=0)

    def service_urls(self) -> dict[str, str]:
        return {"enrolment": self.enrolment_url, "matching": self.matching_url, "sessions": self.sessions_url}
