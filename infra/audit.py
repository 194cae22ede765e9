"""`tandem audit`: what auditors run against the services' audit APIs.

- export: one subsidiary's history from every service, merged in time order, as JSON lines;
- verify: check an export, or the live services, link by link (services/common/chain.py);
- state: the programme as it stood at a time, folded from the events published up to then;
- replay: every service rebuilds its read models from its event store and compares.

Every read goes through the services' HTTP APIs with an auditor's token, so each service
records it (AuditRead) like any other read.
"""

import getpass
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

import httpx

from contracts.registry import event_type
from infra.audit_state import ProgrammeState
from infra.demo import service_urls
from services.common.auth import Role, issue_token
from services.common.chain import LogCheck, check_logs
from services.common.settings import ServiceSettings

PAGE = 1000


class AuditError(Exception):
    """Something the auditor must fix first (a service down, a refused token)."""


def default_token() -> str:
    """A group-wide auditor's token signed with this platform's secret, naming who runs it."""
    return issue_token(ServiceSettings().token_secret(), Role.AUDITOR, subject=f"tandem-audit:{getpass.getuser()}")


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

    def get(self, service: str, path: str, **params: Any) -> httpx.Response:
        try:
            response = self.clients[service].get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise AuditError(f"{service} is not reachable at {self.urls[service]} ({exc}): is the platform up?") from None
        if response.status_code != 200:
            raise AuditError(f"{service} answered {response.status_code} to GET {path}: {response.text[:500]}")
        return response

    def events(self, service: str, subsidiary: str, since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
        """The subsidiary's events in one service, page by page, up to the head seen at the
        first page (each read is recorded after it, so the log grows as we read)."""
        path = f"/subsidiaries/{subsidiary}/audit/events"
        after, head = 0, None
        while head is None or after < head:
            response = self.get(service, path, after=after, limit=PAGE, since=since, until=until)
            if head is None:
                head = int(response.headers["X-Audit-Head"])
            page = [e for e in response.json() if e["position"] <= head]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["position"]

    def history(self, subsidiary: str, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
        """Every service's events of the subsidiary, merged in time order."""
        merged = [e for service in self.clients for e in self.events(service, subsidiary, since, until)]
        return sorted(merged, key=lambda e: (e["time"] or e["recorded_at"], e["service"], e["position"]))

    def heads(self, subsidiary: str) -> list[dict[str, Any]]:
        return [self.get(service, f"/subsidiaries/{subsidiary}/audit/head").json() for service in self.clients]

    def replay(self) -> list[dict[str, Any]]:
        return [self.get(service, "/audit/replay").json() for service in self.clients]


# -- the commands ---------------------------------------------------------------------------


def export(client: AuditClient, subsidiary: str, since: str | None, until: str | None, out: IO[str]) -> int:
    count = 0
    for entry in client.history(subsidiary, since, until):
        out.write(json.dumps(entry, separators=(",", ":")) + "\n")
        count += 1
    return count


def read_jsonl(lines: Iterable[str]) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise AuditError(f"line {number} is not JSON: {exc}") from None
    return entries


def verify_live(client: AuditClient, subsidiary: str) -> tuple[list[LogCheck], list[str]]:
    """Check every service's log of the subsidiary as stored now; also that it reaches the
    head the service reports and that no stored event escaped the chain."""
    heads = {h["service"]: h for h in client.heads(subsidiary)}
    checks = check_logs(e for service in client.clients for e in client.events(service, subsidiary))
    problems = []
    reached = {c.service: c.last for c in checks if c.intact}
    for service, head in heads.items():
        if head["unchained"]:
            problems.append(f"{service}: stored events without a link (inserted behind the service's back): notification ids {head['unchained'][:20]}")
        if service in reached and reached[service] < head["position"]:
            problems.append(f"{service}: the listing stops at position {reached[service]} but the head is at {head['position']}")
    return checks, problems


def programme_state(client: AuditClient, subsidiary: str, as_of: datetime) -> dict[str, Any]:
    """Fold the integration events published up to `as_of` (from the stores, not from any
    read model) into the programme as it stood then."""
    state = ProgrammeState(subsidiary)
    for entry in client.history(subsidiary, until=as_of.isoformat()):
        published = entry.get("published")
        if published:
            state.apply(event_type(published["type"]).model_validate(published))
    return {"as_of": as_of.isoformat(), **state.as_dict()}
