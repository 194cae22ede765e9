"""Settings every service reads from the environment (pydantic-settings)."""

import os
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topics import DEFAULT_PREFIX, Topics
from services.common.checkpoints import SigningKey, ensure_signing_key_file
from services.common.files import private_dir

SIGNING_KEY_FILE = "audit-signing.key"  # under TANDEM_HOME, unless given

# An HS256 key shorter than the hash's output is guessable offline from one token (RFC 7518 3.2).
MIN_SECRET_BYTES = 32


class ConfigurationError(Exception):
    """A setting that keeps a service from starting; the message names the setting, never its value."""


class ServiceSettings(BaseSettings):
    """Platform-wide settings. Each service subclasses it to add its own port."""

    # Only the documented variable names are read (no populate_by_name: HOME must not be TANDEM_HOME).
    model_config = SettingsConfigDict(extra="ignore")

    home: Path = Field(Path(".tandem"), validation_alias="TANDEM_HOME", description="Where local state lives")
    secret: str | None = Field(None, validation_alias="TANDEM_SECRET", description="HS256 key for tokens")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_prefix: str = Field(DEFAULT_PREFIX, validation_alias="TANDEM_TOPIC_PREFIX")
    relay_enabled: bool = Field(True, validation_alias="TANDEM_RELAY_ENABLED")
    consumer_enabled: bool = Field(True, validation_alias="TANDEM_CONSUMER_ENABLED")
    relay_reset_check_seconds: float = Field(10.0, validation_alias="TANDEM_RELAY_RESET_CHECK_SECONDS", gt=0)
    max_body_bytes: int = Field(16 * 1024 * 1024, validation_alias="TANDEM_MAX_BODY_BYTES")
    token_max_hours: float = Field(12.0, validation_alias="TANDEM_TOKEN_MAX_HOURS", gt=0, description="Tokens living longer (exp - iat) are refused")
    # The key of the email claims' ids (enrolment): never in an event store.
    email_claim_secret: str | None = Field(None, validation_alias="TANDEM_EMAIL_CLAIM_SECRET")
    email_claim_secret_file: Path | None = Field(None, validation_alias="TANDEM_EMAIL_CLAIM_SECRET_FILE")
    # Signed checkpoints of the audit chain (services/common/checkpoints.py), published where the relay runs.
    checkpoints_enabled: bool = Field(True, validation_alias="TANDEM_CHECKPOINTS_ENABLED")
    checkpoint_every_events: int = Field(100, validation_alias="TANDEM_CHECKPOINT_EVERY_EVENTS", ge=1)
    checkpoint_seconds: float = Field(60.0, validation_alias="TANDEM_CHECKPOINT_SECONDS", gt=0)
    signing_key_pem: SecretStr | None = Field(None, validation_alias="TANDEM_AUDIT_SIGNING_KEY", description="Ed25519 private key, PEM")
    signing_key_file: Path | None = Field(None, validation_alias="TANDEM_AUDIT_SIGNING_KEY_FILE")

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def token_max_lifetime(self) -> timedelta:
        return timedelta(hours=self.token_max_hours)

    def token_secret(self) -> str:
        """TANDEM_SECRET, or a secret generated once into TANDEM_HOME and shared by every service.
        One shorter than MIN_SECRET_BYTES raises ConfigurationError."""
        if self.secret:
            return check_secret(self.secret, "TANDEM_SECRET")
        path = self.home / "secret"
        return check_secret(ensure_secret_file(path), f"the secret file {path} (TANDEM_HOME/secret)")

    def claim_secret(self) -> str:
        """The email claims' key: TANDEM_EMAIL_CLAIM_SECRET, the file TANDEM_EMAIL_CLAIM_SECRET_FILE,
        or one generated once (0600) into TANDEM_HOME/email-claim-secret."""
        return email_claim_secret(
            {
                "TANDEM_EMAIL_CLAIM_SECRET": self.email_claim_secret,
                "TANDEM_EMAIL_CLAIM_SECRET_FILE": str(self.email_claim_secret_file) if self.email_claim_secret_file else None,
                "TANDEM_HOME": str(self.home),
            }.get
        )

    def audit_signing_key(self, create: bool = True) -> SigningKey:
        """TANDEM_AUDIT_SIGNING_KEY (a secret's PEM), or the key file: TANDEM_AUDIT_SIGNING_KEY_FILE,
        by default TANDEM_HOME/audit-signing.key, created (0600) once and shared by every service."""
        if self.signing_key_given():
            assert self.signing_key_pem is not None
            return SigningKey.from_pem(self.signing_key_pem.get_secret_value())
        return ensure_signing_key_file(self.signing_key_path(), create=create)

    def signing_key_given(self) -> bool:
        # Empty counts as not given (compose passes ${TANDEM_AUDIT_SIGNING_KEY:-}).
        return self.signing_key_pem is not None and bool(self.signing_key_pem.get_secret_value().strip())

    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.home / SIGNING_KEY_FILE

    def event_store_env(self, app_name: str) -> dict[str, str]:
        """Defaults for the eventsourcing library: SQLite under TANDEM_HOME unless the
        environment already chooses (PERSISTENCE_MODULE, POSTGRES_*, SQLITE_DBNAME, with or
        without the application's prefix)."""

        def lookup(key: str) -> str | None:
            return os.environ.get(f"{app_name.upper()}_{key}") or os.environ.get(key)

        env: dict[str, str] = {}
        module = lookup("PERSISTENCE_MODULE")
        if not module:
            module = env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        if module == "eventsourcing.sqlite" and not lookup("SQLITE_DBNAME"):
            private_dir(self.home)
            env["SQLITE_DBNAME"] = str(self.home / f"{app_name}.db")
            # The service and the command line may open one file at once.
            env["SQLITE_LOCK_TIMEOUT"] = lookup("SQLITE_LOCK_TIMEOUT") or "10"
        return env


def check_secret(secret: str, source: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{source} is shorter than {MIN_SECRET_BYTES} bytes: set a long random value "
            "(e.g. `openssl rand -base64 48`), the same for every service"
        )
    return secret


def ensure_secret_file(path: Path) -> str:
    """Read the secret at `path`, creating it (0600) if absent. Safe when processes race."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    for _ in range(100):  # another process may be between create and write
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"secret file {path} is empty")


EMAIL_CLAIM_SECRET_FILE = "email-claim-secret"


def email_claim_secret(get: Callable[[str], str | None], default_home: str | Path = ".tandem") -> str:
    """The key of the email claims' ids, from the settings `get` reads: TANDEM_EMAIL_CLAIM_SECRET,
    else the file named by TANDEM_EMAIL_CLAIM_SECRET_FILE (it must exist and hold one), else
    TANDEM_HOME/email-claim-secret, generated once (0600) if absent."""
    value = (get("TANDEM_EMAIL_CLAIM_SECRET") or "").strip()
    if value:
        return value
    named = get("TANDEM_EMAIL_CLAIM_SECRET_FILE")
    if named:
        value = Path(named).read_text().strip()
        if not value:
            raise RuntimeError(f"TANDEM_EMAIL_CLAIM_SECRET_FILE {named} is empty")
        return value
    return ensure_secret_file(Path(get("TANDEM_HOME") or default_home) / EMAIL_CLAIM_SECRET_FILE)
