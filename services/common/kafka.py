"""kafka-python clients configured the same way everywhere: how they connect to the cluster
(`KafkaSecurity`, from the environment) and how they produce and consume."""

from pathlib import Path
from typing import Any, Literal

from kafka import KafkaConsumer, KafkaProducer
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ConfigurationError


class KafkaSecurity(BaseSettings):
    """How every Kafka client of the platform (services, relays, `tandem topics`, the audit
    tools) authenticates to the cluster and encrypts its traffic. PLAINTEXT by default (the
    embedded broker); a managed cluster wants SASL_SSL with SCRAM, or SSL with a client
    certificate. Read from the environment each time a client is made, so one place decides."""

    model_config = SettingsConfigDict(extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(None, validation_alias="KAFKA_SASL_MECHANISM")
    sasl_username: str | None = Field(None, validation_alias="KAFKA_SASL_USERNAME")
    sasl_password: SecretStr | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD")
    sasl_password_file: Path | None = Field(None, validation_alias="KAFKA_SASL_PASSWORD_FILE")
    ssl_cafile: Path | None = Field(None, validation_alias="KAFKA_SSL_CAFILE", description="PEM: the CA the brokers' certificates are checked against")
    ssl_certfile: Path | None = Field(None, validation_alias="KAFKA_SSL_CERTFILE", description="PEM: this client's certificate (mutual TLS)")
    ssl_keyfile: Path | None = Field(None, validation_alias="KAFKA_SSL_KEYFILE", description="PEM: its private key")
    ssl_key_password: SecretStr | None = Field(None, validation_alias="KAFKA_SSL_KEY_PASSWORD")
    ssl_check_hostname: bool = Field(True, validation_alias="KAFKA_SSL_CHECK_HOSTNAME")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @model_validator(mode="after")
    def _coherent(self) -> "KafkaSecurity":
        # Every inconsistency at once, named by its setting, never its value.
        problems = []
        if self.uses_sasl:
            if self.sasl_mechanism is None:
                problems.append(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM")
            if not self.sasl_username:
                problems.append(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME")
            if self.sasl_password is None and self.sasl_password_file is None:
                problems.append(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE")
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password or self.sasl_password_file:
            problems.append(f"KAFKA_SASL_* settings are given but KAFKA_SECURITY_PROTOCOL is {self.security_protocol} (SASL_PLAINTEXT or SASL_SSL uses them)")
        if not self.uses_tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            problems.append(f"KAFKA_SSL_* files are given but KAFKA_SECURITY_PROTOCOL is {self.security_protocol} (SSL or SASL_SSL uses them)")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            problems.append("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        for name, path in (
            ("KAFKA_SSL_CAFILE", self.ssl_cafile), ("KAFKA_SSL_CERTFILE", self.ssl_certfile),
            ("KAFKA_SSL_KEYFILE", self.ssl_keyfile), ("KAFKA_SASL_PASSWORD_FILE", self.sasl_password_file),
        ):  # fmt: skip
            if path is not None and not path.is_file():
                problems.append(f"{name} names no readable file ({path})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def password(self) -> str | None:
        if self.sasl_password is not None:
            return self.sasl_password.get_secret_value()
        if self.sasl_password_file is not None:
            value = self.sasl_password_file.read_text().strip()
            if not value:
                raise ConfigurationError(f"KAFKA_SASL_PASSWORD_FILE {self.sasl_password_file} is empty")
            return value
        return None

    def client_config(self) -> dict[str, Any]:
        """The kafka-python settings for this security (the same keys for producers,
        consumers and admin clients)."""
        config: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_sasl:
            config.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username, sasl_plain_password=self.password())
        if self.uses_tls:
            config.update(
                ssl_cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                ssl_certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                ssl_keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
                ssl_password=self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
                ssl_check_hostname=self.ssl_check_hostname,
            )
        return config


def kafka_security() -> dict[str, Any]:
    """The client settings of the environment's KafkaSecurity; a ConfigurationError names
    every inconsistent setting (a service checks this at start, before it serves)."""
    try:
        return KafkaSecurity().client_config()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_input=False, include_url=False))
        raise ConfigurationError(f"Kafka security settings: {reasons}") from None


def create_producer(bootstrap_servers: str, client_id: str) -> KafkaProducer:
    # kafka-python 3 producers are idempotent with acks=all by default: retries never
    # duplicate or reorder a partition's messages.
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        linger_ms=5,
        batch_size=256 * 1024,  # the relay sends whole batches of the log; fewer, larger requests
        max_block_ms=10_000,  # a missing broker surfaces as an error, not an endless block
        **kafka_security(),
    )


def create_consumer(bootstrap_servers: str, group_id: str | None, *topics: str, **overrides: object) -> KafkaConsumer:
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,  # offsets are committed after the effects are stored
        # Group joins take about session_timeout_ms / 2: keep them short.
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        **kafka_security(),
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)
