"""Signed checkpoints of the audit chain: what makes a rewritten or cut history visible.

The hash chain (chain.py) shows a row changed behind the service's back, but whoever can
write the database can also recompute every link after the change, or cut a log's tail, and
the chain is again consistent. So each service process (where its relay runs) signs the head
of every log now and then, `{service, log, position, hash, at, key_id}` with Ed25519, and
publishes it to `<prefix>.audit.checkpoints`, outside the database. The signing key is not in
the event store: a file (0600) under TANDEM_HOME by default, or a secret given in production.

An auditor checks an export against these checkpoints with the platform's public key
(`tandem audit verify --public-key`): a checkpointed position whose hash differs is a
rewrite at or before it; a checkpointed position the log no longer reaches is a truncation.
What happened after the last checkpoint is vouched for by nothing but the chain itself (or
by a head the auditor kept, `--expect-head`).
"""

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.chain import iso

log = logging.getLogger(__name__)

FORMAT = "tandem.audit.checkpoint/1"  # signed along, so a signature means this and nothing else
ACK_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 3.0  # the last round's, when the process stops


@dataclass(frozen=True)
class Checkpoint:
    """A log's head as a service saw it at a time, and the signature over all of that."""

    service: str
    log: str
    position: int
    hash: str
    at: str  # ISO 8601 UTC, when it was signed: every position it vouches for was recorded before
    key_id: str
    signature: str = ""  # hex

    def signed_bytes(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps({"format": FORMAT, **fields}, sort_keys=True, separators=(",", ":")).encode()

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Checkpoint":
        try:
            return cls(
                service=str(data["service"]),
                log=str(data["log"]),
                position=int(data["position"]),
                hash=str(data["hash"]),
                at=str(data["at"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None

    def verifies_with(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(bytes.fromhex(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key (so a reader sees which key signed, before checking)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def __repr__(self) -> str:  # never the key itself, in a log or a traceback
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def from_pem(cls, pem: str | bytes) -> "SigningKey":
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the audit signing key is not an Ed25519 private key")
        return cls(key)

    def sign(self, service: str, log: str, position: int, hash_: str, at: datetime | None = None) -> Checkpoint:
        unsigned = Checkpoint(service, log, position, hash_, iso(at or datetime.now(UTC)), self.key_id)
        signature = self._private_key.sign(unsigned.signed_bytes()).hex()
        return Checkpoint(**{**asdict(unsigned), "signature": signature})

    def public_pem(self) -> str:
        return public_pem(self.public_key)


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def ensure_signing_key_file(path: Path, create: bool = True) -> SigningKey:
    """The key at `path`, created (0600) if absent (unless not `create`: FileNotFoundError);
    safe when processes race to create it. A key file others can read is refused: it would
    not be a secret."""
    if not create and not path.exists():
        raise FileNotFoundError(2, "no audit signing key", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"the audit signing key {path} is readable by others: chmod 600 it")
    for _ in range(100):  # another process may be between create and write
        pem = path.read_bytes()
        if pem.strip():
            return SigningKey.from_pem(pem)
        time.sleep(0.01)
    raise RuntimeError(f"the audit signing key file {path} is empty")


# -- checking a history against checkpoints -------------------------------------------------


@dataclass(frozen=True)
class ExpectedHead:
    """A head an auditor kept (`/audit/head`, or a verify summary): SERVICE/LOG:POSITION:HASH."""

    service: str
    log: str
    position: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> "ExpectedHead":
        where, _, rest = text.partition(":")
        service, _, log = where.partition("/")
        position, _, hash_ = rest.partition(":")
        if not (service and log and position.isdigit() and len(hash_) == 64):
            raise ValueError(f"--expect-head {text!r}: expected SERVICE/SUBSIDIARY:POSITION:HASH (the full 64-hex hash)")
        return cls(service, log, int(position), hash_.lower())


@dataclass
class Vouching:
    """What the checkpoints say of one log: how far they vouch for it."""

    signed_up_to: int = 0
    signed_at: str | None = None


def check_checkpoints(
    entries: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    public_keys: list[Ed25519PublicKey],
    expected: Iterable[ExpectedHead] = (),
) -> tuple[dict[tuple[str, str], Vouching], list[str]]:
    """Compare each log of `entries` (audit events) with the signed checkpoints (only those
    whose signature verifies with one of `public_keys` count) and the heads an auditor kept.
    Returns how far checkpoints vouch for each log, and the problems: REWRITTEN (a
    checkpointed position's hash differs), TRUNCATED (the log stops before it), a checkpoint
    whose signature does not verify."""
    hashes: dict[tuple[str, str], dict[int, str]] = {}
    for entry in entries:
        hashes.setdefault((str(entry["service"]), str(entry["subsidiary_id"])), {})[int(entry["position"])] = str(entry["hash"])
    vouched: dict[tuple[str, str], Vouching] = {}
    problems: list[str] = []
    for data in checkpoints:
        try:
            checkpoint = Checkpoint.from_json(data)
        except ValueError as exc:
            problems.append(f"an unreadable checkpoint ({exc})")
            continue
        where = f"{checkpoint.service}/{checkpoint.log}"
        if not any(checkpoint.verifies_with(key) for key in public_keys):
            problems.append(
                f"FORGED? {where}: the checkpoint of position {checkpoint.position} ({checkpoint.at}, key {checkpoint.key_id}) "
                "does not verify with the given public key"
            )
            continue
        problem = _against(hashes.get((checkpoint.service, checkpoint.log), {}), where, checkpoint.position, checkpoint.hash, f"a signed checkpoint of {checkpoint.at}")
        if problem:
            problems.append(problem)
            continue
        found = vouched.setdefault((checkpoint.service, checkpoint.log), Vouching())
        if checkpoint.position > found.signed_up_to:
            found.signed_up_to, found.signed_at = checkpoint.position, checkpoint.at
    for head in expected:
        problem = _against(hashes.get((head.service, head.log), {}), f"{head.service}/{head.log}", head.position, head.hash, "the head you expected")
        if problem:
            problems.append(problem)
    return vouched, problems


def _against(log: dict[int, str], where: str, position: int, hash_: str, what: str) -> str | None:
    if position in log:
        if log[position] != hash_:
            return f"REWRITTEN: {where} position {position}: its hash is not the one {what} vouches for (the history up to it was changed)"
        return None
    last = max(log, default=0)
    if position > last:
        return f"TRUNCATED: {where} ends at position {last}, but {what} vouches for position {position} (events were cut)"
    if position < min(log):
        return None  # before the export's first event (an export --since): not ours to check
    return f"TRUNCATED: {where} position {position}, which {what} vouches for, is missing"


# -- publishing -----------------------------------------------------------------------------


class CheckpointPublisher:
    """Signs the heads of the logs that moved and publishes them, every `every_events` events
    stored or every `every_seconds` seconds if anything was, and once more when stopped.
    Runs in the service process beside the relay (a thread of its own). Before signing a log
    again it checks that the link it signed last is unchanged: a rewrite under a checkpoint
    while the process runs is reported in /healthz (`rewritten`) and that log is no longer
    signed, so the publisher never vouches for a rewritten history. Like the relay, it notices
    a topic emptied by a fresh broker and signs every head again."""

    def __init__(
        self,
        service: str,
        app: Any,
        signing_key: SigningKey,
        topic: str,
        bootstrap_servers: str,
        *,
        every_events: int = 100,
        every_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        reset_check_seconds: float = 10.0,
    ) -> None:
        self.service = service
        self.app = app
        self.signing_key = signing_key
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.poll_seconds = min(poll_seconds, every_seconds)
        self.reset_check_seconds = reset_check_seconds
        self._next_reset_check = 0.0
        self._republish = False  # the topic lost what this process published: sign every head again
        self._offsets_reader: Any = None
        self._published: dict[str, tuple[int, str]] = {}  # log -> (position, hash) last checkpointed by this process
        self.rewritten: dict[str, str] = {}  # log -> what this process found changed under its own checkpoint
        self._round_head = 0  # the notification log's head at the last round
        self._round_at = float("-inf")
        self._producer: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_checkpoint_at: str | None = None

    def topic_lost_its_checkpoints(self) -> bool:
        """True when the topic is empty although this process published to it (a fresh
        broker: the embedded one keeps topics in memory)."""
        from services.common.kafka import create_consumer, topic_is_empty

        if not self._published:
            return False
        if self._offsets_reader is None:
            self._offsets_reader = create_consumer(self.bootstrap_servers, None)
        return topic_is_empty(self._offsets_reader, self.topic)

    def due(self) -> bool:
        if self._republish:
            return True
        head = self.app.recorder.max_notification_id() or 0
        moved = head - self._round_head
        return moved >= self.every_events or (moved > 0 and time.monotonic() - self._round_at >= self.every_seconds)

    def publish_round(self, timeout: float = ACK_TIMEOUT_SECONDS) -> list[Checkpoint]:
        """Sign and publish the head of every log that moved since its last checkpoint."""
        from services.common.kafka import create_producer

        store_head = self.app.recorder.max_notification_id() or 0  # read first: heads below are at least this far
        heads = self.app.recorder.heads()
        for log_, position, _ in heads:  # a log now shorter than its checkpoint was cut: say so
            if position < self._published.get(log_, (0, ""))[0]:
                self._still_as_signed(log_)
        republish = self._republish
        moved = [(log_, position, hash_) for log_, position, hash_ in heads if republish or position > self._published.get(log_, (0, ""))[0]]
        checkpoints = [self.signing_key.sign(self.service, log_, position, hash_) for log_, position, hash_ in moved if self._still_as_signed(log_)]
        if checkpoints:
            if self._producer is None:
                self._producer = create_producer(self.bootstrap_servers, client_id=f"checkpoints:{self.service}")
            futures = [
                self._producer.send(self.topic, key=c.log.encode(), value=json.dumps(c.as_json(), separators=(",", ":")).encode())
                for c in checkpoints
            ]
            self._producer.flush(timeout=timeout)
            for future in futures:
                future.get(timeout=timeout)  # raises if the broker did not acknowledge
            for c in checkpoints:
                self._published[c.log] = (c.position, c.hash)
            self.last_checkpoint_at = checkpoints[-1].at
        self._round_head, self._round_at, self._republish = store_head, time.monotonic(), False
        return checkpoints

    def _still_as_signed(self, log_: str) -> bool:
        """Whether the link this process last signed for the log is still there, unchanged.
        If not, the store was rewritten under it: say so, and sign nothing more of that log (a
        checkpoint of the new head would vouch for the rewrite)."""
        if log_ in self.rewritten:
            return False
        if log_ not in self._published:
            return True
        position, signed = self._published[log_]
        found = self.app.recorder.select_links(log_, position - 1, 1)
        now = found[0][0].hash if found and found[0][0].position == position else None
        if now == signed:
            return True
        self.rewritten[log_] = f"log {log_!r}: position {position} is {'gone' if now is None else 'changed'} since this process signed it"
        log.error("checkpoints of %s: the audit chain was rewritten under a checkpoint: %s; no more checkpoints of it", self.service, self.rewritten[log_])
        return False

    def report(self) -> dict[str, Any]:
        return {
            "ok": self.last_error is None and not self.rewritten,
            "enabled": True,
            "topic": self.topic,
            "key_id": self.signing_key.key_id,
            "last_checkpoint_at": self.last_checkpoint_at,
            "last_error": self.last_error,
            "rewritten": sorted(self.rewritten.values()),
        }

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"checkpoints:{self.service}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        # The tail since the last round, so a clean stop leaves nothing unvouched; briefly, and
        # only on a connection that works (a stop must not wait for a broker that is gone).
        if self.last_error is None and self._producer is not None:
            try:
                self.publish_round(timeout=STOP_TIMEOUT_SECONDS)
            except Exception as exc:
                log.warning("checkpoints of %s: the last round failed: %s", self.service, type(exc).__name__)
        self._close_producer()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if time.monotonic() >= self._next_reset_check:
                    if self.topic_lost_its_checkpoints():
                        log.warning("checkpoints of %s: the topic lost its checkpoints; signing every head again", self.service)
                        self._republish = True
                    self._next_reset_check = time.monotonic() + self.reset_check_seconds
                if self.due():
                    self.publish_round()
            except Exception as exc:  # broker down, store locked...: try again, the heads only grow
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("checkpoints of %s: %s; retrying in %.1fs", self.service, self.last_error, backoff)
                self._close_producer()
                self._next_reset_check = 0.0  # after a failure, look again: the broker may be a new one
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.last_error = None
            backoff = 0.5
            self._stop.wait(self.poll_seconds)

    def _close_producer(self) -> None:
        producer, offsets_reader = self._producer, self._offsets_reader
        self._producer = self._offsets_reader = None
        with contextlib.suppress(Exception):  # already failing; the next round reconnects
            if producer is not None:
                producer.close(timeout=1)
        with contextlib.suppress(Exception):
            if offsets_reader is not None:
                offsets_reader.close()


def start_checkpoints(service: str, app: Any, settings: Any) -> CheckpointPublisher | None:
    """The service's checkpoint publisher, started; None when the settings disable it or the
    store keeps no chain (the in-memory store of some tests)."""
    if not settings.checkpoints_enabled or not hasattr(app.recorder, "heads"):
        return None
    publisher = CheckpointPublisher(
        service,
        app,
        settings.audit_signing_key(),
        settings.topics.audit_checkpoints,
        settings.kafka_bootstrap_servers,
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_seconds,
        reset_check_seconds=settings.relay_reset_check_seconds,
    )
    publisher.start()
    return publisher
