"""kafka-python clients configured the same way everywhere, and the cheap, bounded check
that a cluster answers (readiness at start-up, and the broker's part of /healthz)."""

import logging
import threading
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.net import KafkaNetClient

log = logging.getLogger(__name__)


def create_producer(bootstrap_servers: str, client_id: str) -> KafkaProducer:
    # kafka-python 3 producers are idempotent with acks=all by default: retries never
    # duplicate or reorder a partition's messages.
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        linger_ms=5,
        batch_size=256 * 1024,  # the relay sends whole batches of the log; fewer, larger requests
        max_block_ms=10_000,  # a missing broker surfaces as an error, not an endless block
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
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def connect_admin(bootstrap_servers: str, timeout: float = 10.0, **configs: Any) -> KafkaAdminClient:
    """Build a KafkaAdminClient, failing with KafkaTimeoutError after ``timeout`` seconds.

    kafka-python 3.x bootstraps inside ``KafkaAdminClient.__init__`` and, when that fails,
    leaks the client's background IO thread. Polling for readiness would leak one thread
    per attempt, so we capture the network client through the documented ``kafka_client``
    hook and close it ourselves on failure.
    """
    created: list[KafkaNetClient] = []

    def make_client(**client_configs: Any) -> KafkaNetClient:
        client = KafkaNetClient(**client_configs)
        created.append(client)
        return client

    timeout_ms = max(1, int(timeout * 1000))
    configs.setdefault("client_id", "tandem-admin")
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            bootstrap_timeout_ms=timeout_ms,  # was api_version_auto_timeout_ms before 3.x
            kafka_client=make_client,
            **configs,
        )
    except BaseException:
        for client in created:
            client.close()
        raise


def probe(bootstrap_servers: str, timeout: float, client_id: str = "tandem-probe") -> Exception | None:
    """Ask the cluster for its topic list once, within ``timeout`` seconds; return the
    failure, or None if it answered. A real Kafka request, not just an open TCP port."""
    timeout_ms = max(1, int(timeout * 1000))
    try:
        admin = connect_admin(bootstrap_servers, timeout=timeout, client_id=client_id, request_timeout_ms=timeout_ms)
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
    """Whether the broker answers, asked every few seconds with a fresh connection.

    The long-lived clients cannot tell: an idle relay does not talk to the broker at all,
    and a consumer's poll() returns nothing, without an error, when the broker is gone
    (kafka-python retries its metadata and connections quietly for minutes). So /healthz
    would say ok long after a broker died; this check says otherwise within one interval
    plus one timeout.
    """

    def __init__(self, bootstrap_servers: str, *, interval: float = 2.0, timeout: float = 2.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.interval = interval
        self.timeout = timeout
        self.ok: bool | None = None  # not asked yet
        self.last_error: str | None = None
        self.since: str | None = None  # when it last became reachable, or unreachable
        self.outages = 0  # how many times it went away while this process ran
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        error = probe(self.bootstrap_servers, self.timeout, client_id="tandem-health")
        ok = error is None
        if ok != self.ok:
            self.since = datetime.now(timezone.utc).isoformat(timespec="seconds")
            if not ok:
                if self.ok is not None:
                    self.outages += 1
                log.warning("broker at %s does not answer: %s", self.bootstrap_servers, error)
            elif self.ok is not None:
                log.warning("broker at %s answers again", self.bootstrap_servers)
        self.ok = ok
        self.last_error = None if ok else f"{type(error).__name__}: {error}"
        return ok

    def report(self) -> dict[str, Any]:
        return {
            "ok": bool(self.ok),
            "bootstrap_servers": self.bootstrap_servers,
            "reachable": self.ok,
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
            self.ok, self.last_error = False, f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._check_once()
