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
    # Secure cookies named __Host-... (HTTPS only, this host only). `false` only for plain-HTTP
    # use on one's own machine (`tandem up` sets it): browsers refuse Secure cookies over HTTP.
    secure_cookies: bool = Field(True, validation_alias="CONSOLE_SECURE_COOKIES")
    # Larger request bodies get 413 before the console parses them: ordinary forms, and the
    # CSV import (as large as enrolment's TANDEM_MAX_BODY_BYTES lets a file be).
    max_form_bytes: int = Field(64 * 1024, validation_alias="CONSOLE_MAX_FORM_BYTES", gt=0)
    max_upload_bytes: int = Field(16 * 1024 * 1024, validation_alias="CONSOLE_MAX_UPLOAD_BYTES", gt=0)
    # Long operations (a CSV import of thousands of rows, a matching run) wait this long.
    service_timeout_seconds: float = Field(300.0, validation_alias="CONSOLE_SERVICE_TIMEOUT_SECONDS", gt=0)

    def service_urls(self) -> dict[str, str]:
        return {"enrolment": self.enrolment_url, "matching": self.matching_url, "sessions": self.sessions_url}
