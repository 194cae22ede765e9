"""kafka-python clients configured the same way everywhere: how they connect to the cluster
(`KafkaSecurity`, from the environment), how they produce and consume, and the cheap,
bounded check that a cluster answers (readiness at start-up, and the broker's part of
/healthz)."""

import logging
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import AuthorizationError, KafkaError, KafkaTimeoutError, SaslAuthenticationFailedError
from kafka.net import KafkaConnectionManager, KafkaNetClient, NetworkSelector
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ConfigurationError

log = logging.getLogger(__name__)
# The broker answered and refused this client: a wrong password or unknown user, or no ACL.
REFUSALS = (SaslAuthenticationFailedError, AuthorizationError)


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


class TopicNotKnown(KafkaError):
    """The broker does not know the topic, or not yet (a cluster still starting, a fresh
    embedded broker before `tandem topics`): that is not the same as an empty topic."""

    retriable = True


def topic_is_empty(reader: KafkaConsumer, topic: str) -> bool:
    """Whether the topic holds no record on any partition. Only an empty topic is one that
    lost its records (the embedded broker keeps them in memory); a topic whose partitions
    are unknown raises TopicNotKnown, and the caller asks again later, rather than publish
    everything again to a cluster that was only slow to answer."""
    partitions = reader.partitions_for_topic(topic)
    if not partitions:
        raise TopicNotKnown(f"the broker does not know topic {topic} (yet)")
    ends = reader.end_offsets([TopicPartition(topic, p) for p in partitions])
    return sum(ends.values()) == 0


def connect_admin(bootstrap_servers: str, timeout: float = 10.0, **configs: Any) -> KafkaAdminClient:
    """Build a KafkaAdminClient, failing with KafkaTimeoutError after ``timeout`` seconds,
    or with the broker's refusal (SaslAuthenticationFailedError) if it refused the login.

    kafka-python 3.x bootstraps inside ``KafkaAdminClient.__init__`` and, when that fails,
    leaks the client's background IO thread. Polling for readiness would leak one thread
    per attempt, so we capture the network client through the documented ``kafka_client``
    hook and close it ourselves on failure.
    """
    created: list[KafkaNetClient] = []
    refusals: list[Exception] = []

    def make_client(**client_configs: Any) -> KafkaNetClient:
        net = NetworkSelector(**client_configs)
        client = KafkaNetClient(net=net, manager=_RefusalsNoted(refusals, net, **client_configs), **client_configs)
        created.append(client)
        return client

    timeout_ms = max(1, int(timeout * 1000))
    configs.setdefault("client_id", "tandem-admin")
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            bootstrap_timeout_ms=timeout_ms,  # was api_version_auto_timeout_ms before 3.x
            kafka_client=make_client,
            **{**kafka_security(), **configs},  # authenticated as every other client of the platform
        )
    except BaseException as exc:
        for client in created:
            client.close()
        if isinstance(exc, KafkaTimeoutError) and refusals:
            # The broker answered, and refused this client: say so, not "Unable to bootstrap".
            raise refusals[-1] from exc
        raise


class _RefusalsNoted(KafkaConnectionManager):
    """kafka-python retries a refused login (wrong password, unknown user) quietly until its
    bootstrap times out, and then says only "Unable to bootstrap", as for a broker that is
    down; the refusal itself goes to its log. This keeps it, so connect_admin (and the
    broker's part of /healthz) can name it."""

    def __init__(self, refusals: list[Exception], net: NetworkSelector, **configs: Any) -> None:
        super().__init__(net, **configs)
        self._refusals = refusals

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = super().get_connection(*args, **kwargs)
        connection.init_future.add_errback(self._note)
        return connection

    def _note(self, exc: BaseException) -> None:
        if isinstance(exc, REFUSALS):
            self._refusals.append(exc)


def probe(bootstrap_servers: str, timeout: float, client_id: str = "tandem-probe", **configs: Any) -> Exception | None:
    """Ask the cluster for its topic list once, within ``timeout`` seconds; return the
    failure, or None if it answered. A real Kafka request, not just an open TCP port.
    ``configs`` go to the admin client (a caller's own credentials, say)."""
    timeout_ms = max(1, int(timeout * 1000))
    try:
        admin = connect_admin(bootstrap_servers, timeout=timeout, client_id=client_id, request_timeout_ms=timeout_ms, **configs)
    except Exception as exc:
        return exc
    try:
        admin.list_topics()
        return None
    except Exception as exc:
        return exc
    finally:
        admin.close()


class BrokerCheck:
    """Whether the broker answers, asked every few seconds with a fresh connection, and
    whether the service's topics keep every replica in sync.

    The long-lived clients cannot tell: an idle relay does not talk to the broker at all,
    and a consumer's poll() returns nothing, without an error, when the broker is gone
    (kafka-python retries its metadata and connections quietly for minutes). So /healthz
    would say ok long after a broker died; this check says otherwise within one interval
    plus one timeout.

    On a cluster, one node of three lost still answers and still takes writes
    (min.insync.replicas=2), so nothing else in /healthz changes; but one more loss would
    stop the writes. The topics' metadata says it: partitions with fewer replicas in sync
    than they have (`under_replicated`), until the node is back and has caught up.
    """

    def __init__(self, bootstrap_servers: str, *, topics: tuple[str, ...] = (), interval: float = 2.0, timeout: float = 2.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics  # whose replicas are watched: the service's own and those it reads
        self.interval = interval
        self.timeout = timeout
        self.ok: bool | None = None  # not asked yet
        self.reachable: bool | None = None
        self.under_replicated: list[str] = []  # "topic[partition]: in sync n of m"
        self.last_error: str | None = None
        self.since: str | None = None  # when it last became healthy, or not
        self.outages = 0  # how many times it went away while this process ran
        self._refusal: Exception | None = None  # the broker refused our login since it last answered
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        error, under_replicated = self._ask()
        if error is None:
            self._refusal = None
        elif isinstance(error, REFUSALS):
            self._refusal = error
        elif isinstance(error, KafkaTimeoutError) and self._refusal is not None:
            # kafka-python sometimes loses the broker's refusal (it arrives with the closing
            # connection) and times out instead: a refusal seen since the broker last answered
            # stays named, rather than the health flapping between it and "Unable to bootstrap".
            error = self._refusal
        reachable = error is None
        if reachable != self.reachable:
            if not reachable:
                if self.reachable is not None:
                    self.outages += 1
                log.warning("broker at %s does not answer: %s", self.bootstrap_servers, error)
            elif self.reachable is not None:
                log.warning("broker at %s answers again", self.bootstrap_servers)
        if reachable and bool(under_replicated) != bool(self.under_replicated):
            if under_replicated:
                log.warning("under-replicated partitions (a broker is missing or behind): %s", ", ".join(under_replicated))
            else:
                log.warning("every replica in sync again")
        ok = reachable and not under_replicated
        if ok != self.ok:
            self.since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.ok, self.reachable = ok, reachable
        if reachable:
            self.under_replicated = under_replicated  # unknown while unreachable: the last known
        self.last_error = None if reachable else f"{type(error).__name__}: {error}"
        return ok

    def _ask(self) -> tuple[Exception | None, list[str]]:
        """One metadata request (the watched topics, or every topic): its failure, or the
        partitions short of replicas in sync."""
        if not self.topics:
            return probe(self.bootstrap_servers, self.timeout, client_id="tandem-health"), []
        timeout_ms = max(1, int(self.timeout * 1000))
        try:
            admin = connect_admin(self.bootstrap_servers, timeout=self.timeout, client_id="tandem-health", request_timeout_ms=timeout_ms)
        except Exception as exc:
            return exc, []
        try:
            described = admin.describe_topics(list(self.topics))
        except Exception as exc:
            return exc, []
        finally:
            admin.close()
        short = []
        for topic in described:  # a topic not created yet is the relay's concern, not this one's
            for partition in topic["partitions"]:
                replicas, in_sync = partition["replica_nodes"], partition["isr_nodes"]
                if len(in_sync) < len(replicas):
                    short.append(f"{topic['name']}[{partition['partition_index']}]: in sync {len(in_sync)} of {len(replicas)}")
        return None, sorted(short)

    def report(self) -> dict[str, Any]:
        return {
            "ok": bool(self.ok),
            "bootstrap_servers": self.bootstrap_servers,
            "reachable": self.reachable,
            "under_replicated": self.under_replicated,
            "since": self.since,
            "outages": self.outages,
            "last_error": self.last_error,
        }

    def start(self) -> None:
        """The first answer before the service serves, then one every interval."""
        self._stop.clear()
        self._check_once()
        self._thread = threading.Thread(target=self._run, name="broker-check", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _check_once(self) -> None:
        try:
            self.check()
        except Exception as exc:  # noqa: BLE001 - a check must never stop checking
            self.ok, self.reachable, self.last_error = False, False, f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._check_once()
