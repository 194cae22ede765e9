"""`tandem audit`: what auditors run against the services' audit APIs.

- export: one subsidiary's history from every service, merged in time order, as JSON lines,
  personal values sealed (unless revealed), followed by the signed checkpoints of its logs
  read from the checkpoints topic (services/common/checkpoints.py);
- verify: check an export, or the live services, link by link (services/common/chain.py),
  and against the signed checkpoints and the heads an auditor kept;
- state: the programme as it stood at a time, folded from the events published up to then;
- replay: every service rebuilds its read models from its event store and compares.

Every read of events goes through the services' HTTP APIs with an auditor's token, so each
service records it (AuditRead) like any other read. Checkpoints are read from Kafka: they are
kept outside the event stores on purpose.
"""

import contextlib
import getpass
import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from contracts.registry import event_type
from infra.audit_state import ProgrammeState
from infra.demo import service_urls
from services.common.auth import Role, issue_token
from services.common.chain import LogCheck, check_logs
from services.common.checkpoints import ExpectedHead, Vouching, check_checkpoints, load_public_key
from services.common.settings import ServiceSettings

PAGE = 1000


class AuditError(Exception):
    """Something the auditor must fix first (a service down, a refused token)."""


def default_token() -> str:
    """A group-wide auditor's token signed with this platform's secret, naming who runs it:
    for the one command, so an hour (or the platform's maximum, if shorter)."""
    settings = ServiceSettings()
    ttl = min(timedelta(hours=1), settings.token_max_lifetime)
    return issue_token(settings.token_secret(), Role.AUDITOR, subject=f"tandem-audit:{getpass.getuser()}", ttl=ttl)


class AuditClient:
    """The three services' audit APIs: where `tandem up` runs them (their port variables),
    or the given clients (each already carrying its token)."""

    def __init__(self, token: str | None = None, clients: dict[str, httpx.Client] | None = None) -> None:
        if clients is None:
            assert token is not None
            headers = {"Authorization": f"Bearer {token}"}
            clients = {name: httpx.Client(base_url=url, headers=headers, timeout=120.0) for name, url in service_urls().items()}
        self.clients = clients
        self.urls = {name: str(client.base_url) for name, client in clients.items()}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def get(self, service: str, path: str, *, missing_ok: bool = False, **params: Any) -> httpx.Response:
        """The service's answer; with `missing_ok` a 404 (no log of that subsidiary there) too."""
        try:
            response = self.clients[service].get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise AuditError(f"{service} is not reachable at {self.urls[service]} ({exc}): is the platform up?") from None
        if response.status_code == 404 and missing_ok:
            return response
        if response.status_code != 200:
            raise AuditError(f"{service} answered {response.status_code} to GET {path}: {response.text[:500]}")
        return response

    def events(
        self, service: str, subsidiary: str, since: str | None = None, until: str | None = None, reveal: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The subsidiary's events in one service, page by page, up to the head seen at the
        first page (each read is recorded after it, so the log grows as we read). None if the
        service has no log of it (a service the subsidiary has not reached yet)."""
        path = f"/subsidiaries/{subsidiary}/audit/events"
        after, head = 0, None
        while head is None or after < head:
            response = self.get(service, path, missing_ok=True, after=after, limit=PAGE, since=since, until=until, reveal=reveal or None)
            if response.status_code == 404:
                return
            if head is None:
                head = int(response.headers["X-Audit-Head"])
            page = [e for e in response.json() if e["position"] <= head]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["position"]

    def history(self, subsidiary: str, since: str | None = None, until: str | None = None, reveal: bool = False) -> list[dict[str, Any]]:
        """Every service's events of the subsidiary, merged in time order."""
        self.require_known(subsidiary)
        merged = [e for service in self.clients for e in self.events(service, subsidiary, since, until, reveal)]
        return sorted(merged, key=lambda e: (e["time"] or e["recorded_at"], e["service"], e["position"]))

    def heads(self, subsidiary: str) -> list[dict[str, Any]]:
        """The head of each service's log of the subsidiary (services with none left out)."""
        answers = [self.get(service, f"/subsidiaries/{subsidiary}/audit/head", missing_ok=True) for service in self.clients]
        return [a.json() for a in answers if a.status_code == 200]

    def require_known(self, subsidiary: str) -> None:
        if not self.heads(subsidiary):
            raise AuditError(f"no service has a history of {subsidiary!r} (or this token may not read it)")

    def replay(self) -> list[dict[str, Any]]:
        return [self.get(service, "/audit/replay").json() for service in self.clients]


# -- the commands ---------------------------------------------------------------------------


def export(
    client: AuditClient,
    subsidiary: str,
    since: str | None,
    until: str | None,
    out: IO[str],
    reveal: bool = False,
    checkpoints: Iterable[dict[str, Any]] = (),
) -> int:
    """The history's events, one JSON line each, then each checkpoint as {"checkpoint": ...}.
    With `until`, only checkpoints signed by then: those vouch for events the export holds."""
    count = 0
    for entry in client.history(subsidiary, since, until, reveal):
        out.write(json.dumps(entry, separators=(",", ":")) + "\n")
        count += 1
    bound = datetime.fromisoformat(until) if until else None
    for checkpoint in checkpoints:
        if bound is None or datetime.fromisoformat(str(checkpoint["at"]).replace("Z", "+00:00")) <= bound:
            out.write(json.dumps({"checkpoint": checkpoint}, separators=(",", ":")) + "\n")
    return count


def read_checkpoints(bootstrap_servers: str, topic: str, subsidiary: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every checkpoint of the subsidiary's logs on the checkpoints topic, from its beginning."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    from infra.broker import wait_until_ready
    from services.common.kafka import create_consumer

    try:
        wait_until_ready(bootstrap_servers, timeout=5.0)  # a consumer alone takes 30 s to say no
        consumer = create_consumer(bootstrap_servers, None, enable_auto_commit=False, consumer_timeout_ms=1000)
    except (KafkaError, TimeoutError) as exc:
        raise AuditError(f"cannot read the checkpoints from Kafka at {bootstrap_servers} ({type(exc).__name__}): is KAFKA_BOOTSTRAP_SERVERS set?") from None
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise AuditError(f"there is no topic {topic} on {bootstrap_servers}: run `tandem topics`")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AuditError(f"the checkpoints topic {topic} was not read to its end within {timeout:.0f}s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.key == subsidiary.encode():
                        with contextlib.suppress(ValueError):  # unreadable: nothing it could vouch for
                            found.append(json.loads(record.value))
        return found
    finally:
        consumer.close()


def read_jsonl(lines: Iterable[str]) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise AuditError(f"line {number} is not JSON: {exc}") from None
    return entries


def split_export(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(audit events, checkpoints) of an export."""
    events = [line for line in lines if "checkpoint" not in line]
    return events, [line["checkpoint"] for line in lines if "checkpoint" in line]


def read_public_keys(paths: Iterable[str]) -> list[Any]:
    keys = []
    for path in paths:
        try:
            keys.append(load_public_key(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            raise AuditError(f"--public-key {path}: {exc}") from None
    return keys


def signed_checks(
    events: list[dict[str, Any]], checkpoints: list[dict[str, Any]], public_keys: list[Any], expected: list[ExpectedHead]
) -> tuple[dict[tuple[str, str], Vouching], list[str]]:
    """The checkpoints' verdict on the events (no public key: checkpoints are not used)."""
    return check_checkpoints(events, checkpoints if public_keys else [], public_keys, expected)


def verify_live(client: AuditClient, subsidiary: str, events: list[dict[str, Any]] | None = None) -> tuple[list[LogCheck], list[str]]:
    """Check every service's log of the subsidiary as stored now; also that it reaches the
    head the service reports and that no stored event escaped the chain. `events`, if given,
    is filled with what was read (for the checkpoints' check)."""
    heads = {h["service"]: h for h in client.heads(subsidiary)}
    if not heads:
        raise AuditError(f"no service has a history of {subsidiary!r} (or this token may not read it)")
    read = [e for service in client.clients for e in client.events(service, subsidiary)]
    if events is not None:
        events.extend(read)
    checks = check_logs(read)
    problems = []
    reached = {c.service: c.last for c in checks if c.intact}
    for service, head in heads.items():
        if head["unchained"]:
            problems.append(f"{service}: stored events without a link (inserted behind the service's back): notification ids {head['unchained'][:20]}")
        if service in reached and reached[service] < head["position"]:
            problems.append(f"{service}: the listing stops at position {reached[service]} but the head is at {head['position']}")
    return checks, problems


def programme_state(client: AuditClient, subsidiary: str, as_of: datetime, reveal: bool = False) -> dict[str, Any]:
    """Fold the integration events published up to `as_of` (from the stores, not from any
    read model) into the programme as it stood then; names only if `reveal`."""
    state = ProgrammeState(subsidiary)
    for entry in client.history(subsidiary, until=as_of.isoformat(), reveal=reveal):
        published = entry.get("published")
        if published:
            state.apply(event_type(published["type"]).model_validate(published))
    return {"as_of": as_of.isoformat(), **state.as_dict()}
