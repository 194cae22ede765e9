"""Tamper evidence: every stored event is a link in a hash chain.

Each service's events are chained per subsidiary (a "log"): the link of an event holds its
position in that log, when it was recorded, the hash of the previous link and its own hash,
computed over those and the event's stored bytes (originator id, version, topic, state).
Links are written by the event store's recorder in the same transaction as the events (the
recorders below), so an event is never stored without its link. Personal data is sealed
before it is stored and erasure only destroys keys, so the chain still verifies afterwards.

What a check detects: a changed row (its hash no longer matches), a deleted event (its link
points at nothing, or the next link's previous hash does not match), an event inserted
behind the service's back (stored without a link: `unchained`), links reordered (positions
and previous hashes no longer follow). Truncating the tail of a log leaves a shorter valid
chain; so does recomputing every link after a change. Signed checkpoints of the heads,
published outside the database (checkpoints.py), make both visible up to the last one.
"""

import base64
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory
from psycopg.sql import SQL, Identifier

from contracts.personal import is_token

GENESIS = "0" * 64  # the previous hash of a log's first link
UNPLACED = "-"  # the log of events of no one subsidiary (a replay's audit read)
CHAIN_TABLE = "audit_chain"
CONSUMED_TABLE = "consumed_events"
LOOKUP_CHUNK = 500  # ids per query when asking which consumed events were applied
INSERT_CHUNK = 1000  # events per INSERT statement on PostgreSQL (see ChainedPostgresApplicationRecorder)


@dataclass(frozen=True)
class Link:
    log: str  # the subsidiary
    position: int  # 1, 2, ... within the log
    notification_id: int  # where the event sits in the service's notification log
    recorded_at: str  # ISO 8601 UTC, as the event's own timestamp
    hash: str
    prev_hash: str


@dataclass(frozen=True)
class Placement:
    """What the application tells the recorder about an event it saves."""

    log: str
    recorded_at: datetime


def link_hash(
    prev_hash: str, log: str, position: int, recorded_at: str, originator_id: str, originator_version: int, topic: str, state: bytes
) -> str:
    """SHA-256 over the link and the stored event, each part length-prefixed so no two
    different inputs can run together into the same bytes."""
    digest = hashlib.sha256()
    for part in (prev_hash, log, str(position), recorded_at, originator_id, str(originator_version), topic):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    digest.update(len(state).to_bytes(8, "big") + state)
    return digest.hexdigest()


def stored_hash(link: Link, stored: StoredEvent) -> str:
    return link_hash(
        link.prev_hash,
        link.log,
        link.position,
        link.recorded_at,
        str(stored.originator_id),
        stored.originator_version,
        stored.topic,
        stored.state,
    )


def stored_as_json(stored: StoredEvent) -> dict[str, Any]:
    """The stored bytes as an export carries them, so anyone can recompute the hash."""
    return {
        "originator_id": str(stored.originator_id),
        "originator_version": stored.originator_version,
        "topic": stored.topic,
        "state": base64.b64encode(stored.state).decode(),
    }


def stored_from_json(data: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=str(data["originator_id"]),
        originator_version=int(data["originator_version"]),
        topic=str(data["topic"]),
        state=base64.b64decode(data["state"]),
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_links(
    stored_events: Sequence[StoredEvent],
    notification_ids: Sequence[int],
    placements: Sequence[Placement] | None,
    head_of: Callable[[str], tuple[int, str]],
) -> list[Link]:
    """The links of events being inserted, after the heads of their logs (position, hash)."""
    heads: dict[str, tuple[int, str]] = {}
    links = []
    for index, (stored, notification_id) in enumerate(zip(stored_events, notification_ids, strict=True)):
        placement = placements[index] if placements else Placement(UNPLACED, datetime.now(UTC))
        if placement.log not in heads:
            heads[placement.log] = head_of(placement.log)
        position, prev_hash = heads[placement.log]
        link = Link(placement.log, position + 1, notification_id, iso(placement.recorded_at), "", prev_hash)
        link = Link(**{**link.__dict__, "hash": stored_hash(link, stored)})
        heads[placement.log] = (link.position, link.hash)
        links.append(link)
    return links


def _rows(links: Iterable[Link]) -> list[tuple[Any, ...]]:
    return [(k.log, k.position, k.notification_id, k.recorded_at, k.hash, k.prev_hash) for k in links]


_COLUMNS = "log, position, notification_id, recorded_at, hash, prev_hash"
# Every log's last link (log, position, hash): what a checkpoint round signs.
_HEADS = "SELECT k.log, k.position, k.hash FROM {0} k JOIN (SELECT log, MAX(position) AS top FROM {0} GROUP BY log) m ON m.log = k.log AND m.top = k.position ORDER BY k.log"


# -- SQLite ---------------------------------------------------------------------------------


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Stores each event's link with it, in the same transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "log TEXT NOT NULL, position INTEGER NOT NULL, notification_id INTEGER NOT NULL UNIQUE, "
            "recorded_at TEXT NOT NULL, hash TEXT NOT NULL, prev_hash TEXT NOT NULL, "
            "PRIMARY KEY (log, position)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {CHAIN_TABLE}_time ON {CHAIN_TABLE} (log, recorded_at)",
            f"CREATE TABLE IF NOT EXISTS {CONSUMED_TABLE} (event_id TEXT PRIMARY KEY, log TEXT NOT NULL) WITHOUT ROWID",
        ]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # The inserts above took SQLite's write lock: no other writer can move a log's head
        # between reading it here and committing.
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        assert notification_ids is not None

        def head_of(log: str) -> tuple[int, str]:
            c.execute(f"SELECT position, hash FROM {CHAIN_TABLE} WHERE log=? ORDER BY position DESC LIMIT 1", (log,))
            row = c.fetchone()
            return (row[0], row[1]) if row else (0, GENESIS)

        links = new_links(stored_events, notification_ids, kwargs.get("placements"), head_of)
        c.executemany(f"INSERT INTO {CHAIN_TABLE} ({_COLUMNS}) VALUES (?,?,?,?,?,?)", _rows(links))
        # Already there: applied by a writer that came first, whose effects conflicted with
        # ours on the aggregates' versions (or it had none, and neither have we).
        c.executemany(f"INSERT OR IGNORE INTO {CONSUMED_TABLE} (event_id, log) VALUES (?,?)", kwargs.get("consumed") or [])
        return notification_ids

    def applied(self, event_ids: Collection[str]) -> set[str]:
        """Those of the given consumed events whose effects are stored."""
        found: set[str] = set()
        ids = list(event_ids)
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[start : start + LOOKUP_CHUNK]
                c.execute(f"SELECT event_id FROM {CONSUMED_TABLE} WHERE event_id IN ({','.join('?' * len(chunk))})", chunk)
                found.update(row[0] for row in c.fetchall())
        return found

    # -- reading, for the audit API ---------------------------------------------------------

    def select_links(
        self, log: str, after: int, limit: int, since: str | None = None, until: str | None = None
    ) -> list[tuple[Link, StoredEvent | None]]:
        """A log's links after a position, each with its stored event (None: deleted)."""
        statement = (
            f"SELECT k.*, e.originator_id AS e_id, e.originator_version AS e_version, e.topic AS e_topic, e.state AS e_state "
            f"FROM {CHAIN_TABLE} k LEFT JOIN {self.events_table_name} e ON e.rowid = k.notification_id "
            "WHERE k.log=? AND k.position>? "
        )
        params: list[Any] = [log, after]
        if since is not None:
            statement += "AND k.recorded_at>=? "
            params.append(since)
        if until is not None:
            statement += "AND k.recorded_at<=? "
            params.append(until)
        statement += "ORDER BY k.position LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [_link_and_event(row, self.convert_originator_id) for row in c.fetchall()]

    def head(self, log: str) -> tuple[int, str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, hash FROM {CHAIN_TABLE} WHERE log=? ORDER BY position DESC LIMIT 1", (log,))
            row = c.fetchone()
            return (row[0], row[1]) if row else (0, GENESIS)

    def heads(self) -> list[tuple[str, int, str]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(_HEADS.format(CHAIN_TABLE))
            return [(row[0], row[1], row[2]) for row in c.fetchall()]

    def unchained(self, limit: int = 1000) -> list[int]:
        """Notification ids of stored events no link covers: written behind the service's back."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT e.rowid FROM {self.events_table_name} e LEFT JOIN {CHAIN_TABLE} k ON k.notification_id = e.rowid "
                "WHERE k.notification_id IS NULL ORDER BY e.rowid LIMIT ?",
                (limit,),
            )
            return [row[0] for row in c.fetchall()]


class ChainedSQLiteFactory(SQLiteFactory):
    application_recorder_class = ChainedSQLiteApplicationRecorder


# -- PostgreSQL -----------------------------------------------------------------------------


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """Stores each event's link with it, in the same transaction. The library locks the
    events table (EXCLUSIVE) for every insert, so heads cannot move meanwhile."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            # That path inserts through a database function and would store events unlinked.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS cannot be used: events must be stored with their audit links")
        self.chain_table = Identifier(self.datastore.schema, f"{events_table_name}_chain")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (log text NOT NULL, position bigint NOT NULL, "
                "notification_id bigint NOT NULL UNIQUE, recorded_at text NOT NULL, hash text NOT NULL, "
                "prev_hash text NOT NULL, PRIMARY KEY (log, position))"
            ).format(self.chain_table)
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (log, recorded_at)").format(
                Identifier(f"{events_table_name}_chain_time"), self.chain_table
            )
        )
        self.consumed_table = Identifier(self.datastore.schema, f"{events_table_name}_consumed")
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {0} (event_id text PRIMARY KEY, log text NOT NULL)").format(self.consumed_table)
        )

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library's hook for what goes in the same transaction, run even when there are no
        # events (as its tracking records are). Already there: see the SQLite recorder.
        consumed = kwargs.get("consumed") or []
        if consumed:
            curs.executemany(
                SQL("INSERT INTO {0} (event_id, log) VALUES (%s,%s) ON CONFLICT (event_id) DO NOTHING").format(self.consumed_table), consumed
            )

    def applied(self, event_ids: Collection[str]) -> set[str]:
        ids = list(event_ids)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT event_id FROM {0} WHERE event_id = ANY(%s)").format(self.consumed_table), (ids,))
            return {row["event_id"] for row in curs.fetchall()}

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The library sends all the events as one array parameter. In pipeline mode psycopg
        # hung (server waiting in ClientRead) on a 10,000-participant import, ~20,000 events
        # in one message; statements of INSERT_CHUNK events each, in the same transaction, go through.
        self._lock_table(curs)
        self._notify_channel(curs)
        chunks = [stored_events[start : start + INSERT_CHUNK] for start in range(0, len(stored_events), INSERT_CHUNK)]
        params = [([self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state) for e in chunk],) for chunk in chunks]
        curs.executemany(self.insert_events_statement, params, returning=True)  # each statement's ids kept
    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids: list[int] = []
        while True:  # one result per chunk of the insert (and none for the lock before them)
            if curs.description is not None:
                notification_ids += [row["notification_id"] for row in curs.fetchall()]
            if not curs.nextset():
                break
        if len(notification_ids) != len(stored_events):
            raise ProgrammingError(f"couldn't get all notification ids (got {len(notification_ids)}, expected {len(stored_events)})")

        def head_of(log: str) -> tuple[int, str]:
            curs.execute(
                SQL("SELECT position, hash FROM {0} WHERE log=%s ORDER BY position DESC LIMIT 1").format(self.chain_table), (log,)
            )
            row = curs.fetchone()
            return (row["position"], row["hash"]) if row else (0, GENESIS)

        links = new_links(stored_events, notification_ids, kwargs.get("placements"), head_of)
        curs.executemany(
            SQL("INSERT INTO {0} (" + _COLUMNS + ") VALUES (%s,%s,%s,%s,%s,%s)").format(self.chain_table), _rows(links)
        )
        return notification_ids

    def select_links(
        self, log: str, after: int, limit: int, since: str | None = None, until: str | None = None
    ) -> list[tuple[Link, StoredEvent | None]]:
        statement = SQL(
            "SELECT k.*, e.originator_id AS e_id, e.originator_version AS e_version, e.topic AS e_topic, e.state AS e_state "
            "FROM {0} k LEFT JOIN {1} e ON e.notification_id = k.notification_id WHERE k.log=%s AND k.position>%s "
        ).format(self.chain_table, Identifier(self.datastore.schema, self.events_table_name))
        params: list[Any] = [log, after]
        if since is not None:
            statement += SQL("AND k.recorded_at>=%s ")
            params.append(since)
        if until is not None:
            statement += SQL("AND k.recorded_at<=%s ")
            params.append(until)
        statement += SQL("ORDER BY k.position LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [_link_and_event(row, lambda value: value) for row in curs.fetchall()]

    def head(self, log: str) -> tuple[int, str]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT position, hash FROM {0} WHERE log=%s ORDER BY position DESC LIMIT 1").format(self.chain_table), (log,))
            row = curs.fetchone()
            return (row["position"], row["hash"]) if row else (0, GENESIS)

    def heads(self) -> list[tuple[str, int, str]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL(_HEADS).format(self.chain_table))
            return [(row["log"], row["position"], row["hash"]) for row in curs.fetchall()]

    def unchained(self, limit: int = 1000) -> list[int]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT e.notification_id FROM {0} e LEFT JOIN {1} k ON k.notification_id = e.notification_id "
                    "WHERE k.notification_id IS NULL ORDER BY e.notification_id LIMIT %s"
                ).format(Identifier(self.datastore.schema, self.events_table_name), self.chain_table),
                (limit,),
            )
            return [row["notification_id"] for row in curs.fetchall()]


class ChainedPostgresFactory(PostgresFactory):
    application_recorder_class = ChainedPostgresApplicationRecorder


FACTORIES = {"eventsourcing.sqlite": ChainedSQLiteFactory, "eventsourcing.postgres": ChainedPostgresFactory}


def _link_and_event(row: Any, convert_id: Callable[[Any], UUID | str]) -> tuple[Link, StoredEvent | None]:
    link = Link(row["log"], row["position"], row["notification_id"], row["recorded_at"], row["hash"], row["prev_hash"])
    if row["e_version"] is None:
        return link, None
    state = row["e_state"]
    # Whoever altered a row may have stored text where bytes belong: still show what is there.
    state = state.encode() if isinstance(state, str) else bytes(state)
    stored = StoredEvent(originator_id=convert_id(row["e_id"]), originator_version=row["e_version"], topic=row["e_topic"], state=state)
    return link, stored


# -- checking a history ---------------------------------------------------------------------


@dataclass
class LogCheck:
    """One log's verdict: the positions checked, and the first break if any."""

    service: str
    log: str
    first: int = 0
    last: int = 0
    count: int = 0
    head_hash: str = GENESIS
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def describe(self) -> str:
        where = f"{self.service}/{self.log}"
        if not self.intact:
            return f"{where}: BROKEN at position {self.broken_at}: {self.reason}"
        if self.count == 0:
            return f"{where}: no events"
        return f"{where}: intact, positions {self.first}..{self.last} ({self.count} events), head {self.head_hash[:16]}"


def check_logs(entries: Iterable[dict[str, Any]]) -> list[LogCheck]:
    """Check audit events (as the audit API lists and `tandem audit export` writes them):
    each log's positions follow each other, each link names the previous hash, and each hash
    is recomputed from the stored bytes. A log that does not start at position 1 (an export
    with --since) is checked from its first position on."""
    logs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        logs.setdefault((str(entry["service"]), str(entry["subsidiary_id"])), []).append(entry)
    return [_check_log(service, log, sorted(found, key=lambda e: int(e["position"]))) for (service, log), found in sorted(logs.items())]


def _check_log(service: str, log: str, entries: list[dict[str, Any]]) -> LogCheck:
    check = LogCheck(service, log)
    previous: dict[str, Any] | None = None
    for entry in entries:
        position = int(entry["position"])
        reason = _break(log, entry, previous)
        if reason is not None:
            check.broken_at, check.reason = position, reason
            return check
        check.first = check.first or position
        check.last, check.count, check.head_hash = position, check.count + 1, str(entry["hash"])
        previous = entry
    return check


def _break(log: str, entry: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    position = int(entry["position"])
    if previous is None:
        if position == 1 and entry["prev_hash"] != GENESIS:
            return "the log's first event does not start the chain"
    else:
        expected = int(previous["position"]) + 1
        if position != expected:
            what = "appears twice" if position == expected - 1 else f"follows position {expected - 1}: events are missing"
            return f"position {position} {what}"
        if entry["prev_hash"] != previous["hash"]:
            return "its previous hash is not the hash of the event before it (events changed, removed or reordered)"
    if entry.get("stored") is None:
        return "the stored event is missing (deleted)"
    link = Link(log, position, int(entry.get("notification_id") or 0), str(entry["recorded_at"]), "", str(entry["prev_hash"]))
    try:
        recomputed = stored_hash(link, stored_from_json(entry["stored"]))
    except (KeyError, ValueError, TypeError):
        return "its stored bytes are malformed"
    if recomputed != entry["hash"]:
        return "its stored bytes do not match its hash (the event was changed)"
    return _shown_disagrees(entry)


# Fields of a stored event's state an audit event shows elsewhere than in its payload (position,
# time, actor), or the library's own bookkeeping.
ENVELOPE_FIELDS = {"originator_id", "originator_version", "originator_topic", "timestamp", "context"}


def _shown_disagrees(entry: dict[str, Any]) -> str | None:
    """Whether what an audit event shows (type, time, actor, payload) says something else than
    the stored bytes its hash covers: an export edited where a reader looks rather than in its
    `stored` part. Sealed personal values are not compared (they read as the plaintext, or
    null once erased); `published` is derived from the same event and not checked."""
    if entry.get("payload") is None:
        return None  # the service could not read the event: nothing is shown to disagree
    stored = entry["stored"]
    try:
        state = json.loads(base64.b64decode(stored["state"]))
    except ValueError:
        return None  # compressed or encrypted at rest: only the hash vouches for it
    if not isinstance(state, dict):
        return "its stored state is not an event"
    if entry.get("type") != str(stored["topic"]).rpartition(":")[2]:
        return "its type is not the stored event's"
    if not _same_time(entry.get("time"), _plain(state.get("timestamp"))):
        return "its time is not the stored event's"
    if entry.get("actor") != _plain((state.get("context") or {}).get("actor")):
        return "its actor is not the stored event's"
    fields = {k: v for k, v in state.items() if k not in ENVELOPE_FIELDS}
    if not _agrees(fields, entry["payload"]):
        return "its payload is not the stored event's"
    return None


def _plain(value: Any) -> Any:
    """A transcoded value (eventsourcing's {"_type_", "_data_"}) as the audit API shows it."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind == "uuid_hex":
                return str(UUID(data))
            if kind == "decimal_str":
                return Decimal(data)
            return _plain(data)
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _agrees(stored: Any, shown: Any) -> bool:
    if isinstance(stored, str) and is_token(stored):
        return True  # sealed: only its participant's key reads it
    if isinstance(stored, dict) and set(stored) == {"_type_", "_data_"}:
        plain = _plain(stored)
        if isinstance(plain, Decimal):
            return isinstance(shown, (int, float, str)) and not isinstance(shown, bool) and Decimal(str(shown)) == plain
        if stored["_type_"] == "datetime_iso":
            return _same_time(shown, plain)
        return plain == shown
    if isinstance(stored, dict):
        return isinstance(shown, dict) and stored.keys() == shown.keys() and all(_agrees(v, shown[k]) for k, v in stored.items())
    if isinstance(stored, list):
        return isinstance(shown, list) and len(stored) == len(shown) and all(map(_agrees, stored, shown))
    return stored == shown and type(stored) is type(shown)


def _same_time(shown: Any, stored: Any) -> bool:
    try:
        return datetime.fromisoformat(str(shown)) == datetime.fromisoformat(str(stored))
    except ValueError:
        return False
