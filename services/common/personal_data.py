"""Personal data sealed per participant (crypto-shredding), shared by every service.

Each participant has a key of their own, in a key store the three services share: an SQLite
file (``TANDEM_HOME/keys.db``) in the embedded set-up, a PostgreSQL table in production. Their
personal values are sealed with it wherever they are kept or sent: in every service's stored
events (`SealingMapper`) and on Kafka (contracts/wire.py). Erasing a participant destroys their
key and leaves a tombstone in its place, so that no key is ever made for them again (a late or
replayed event must not bring one back): every sealed copy then reads as erased (None), and
the stored bytes never change, so the audit hash chain still verifies.

Events stored before sealing began hold plaintext; they are read as they are, except that a
value whose participant is erased reads as erased too. Those rows still physically hold the
plaintext (they are never rewritten).

Settings (read from the application's environment, with or without its prefix):
- ``TANDEM_KEY_STORE``: ``sqlite``, ``postgres`` or ``memory``; by default the event store's
  kind (PERSISTENCE_MODULE eventsourcing.postgres: postgres; eventsourcing.sqlite: sqlite;
  anything else, e.g. eventsourcing.popo in tests: memory, shared within the process).
- ``TANDEM_KEYS_DBNAME``: the SQLite file; default ``$TANDEM_HOME/keys.db`` (without
  TANDEM_HOME, beside the SQLite event store).
- ``TANDEM_KEYS_POSTGRES_{HOST,PORT,DBNAME,USER,PASSWORD,SCHEMA}``: where the PostgreSQL table
  is, each defaulting to the POSTGRES_* setting of the same name. The three services must name
  the same database: each has its own event store database, so set TANDEM_KEYS_POSTGRES_DBNAME.
- ``TANDEM_KEYS_WRAPPING_KEY``, else ``TANDEM_KEYS_WRAPPING_KEY_FILE`` (default
  ``$TANDEM_HOME/keys-wrapping-key``, generated when absent on a store with no wrapped key):
  the wrapping key(s) the SQLite and PostgreSQL stores keep every key wrapped with
  (key_wrapping.py). A store with wrapped keys is refused without the wrapping key.
"""

import base64
import json
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher, Compressor, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import Environment

from contracts.personal import Binding, PersonalFields, copied_along, is_token, open_fields, parse_token, personal_values, seal_fields, token
from services.common.files import is_sqlite_file, private_sqlite_file
from services.common.key_wrapping import (
    FILE_SETTING,
    VALUE_SETTING,
    WrappingKeyError,
    WrappingKeys,
    WrappingKeySource,
    open_wrapping,
    wrapping_key_source,
)

TABLE = "tandem_personal_data_keys"
KEY_BYTES = 32  # AES-256-GCM
NONCE_BYTES, TAG_BYTES = 12, 16
log = logging.getLogger(__name__)


class KeyStore:
    """One key per participant id; destroying one leaves a tombstone (the key set to null).
    The SQLite and PostgreSQL stores keep each key wrapped (key_wrapping.py)."""

    wrapping: WrappingKeys | None = None

    def fetch(self, subject: str) -> tuple[bool, str | None]:
        """(found, key): (False, None) when the store has no row, (True, None) for a tombstone."""
        raise NotImplementedError

    def fetch_many(self, subjects: Iterable[str]) -> dict[str, tuple[bool, str | None]]:
        """`fetch` for many at once: {subject: (found, key)}."""
        return {subject: self.fetch(subject) for subject in dict.fromkeys(subjects)}

    def create(self, keys: Mapping[str, str]) -> None:
        """Store these new keys, in one transaction, leaving any existing row (key or tombstone) as it is."""
        raise NotImplementedError

    def destroy(self, subject: str) -> None:
        """Replace the subject's key, if any, by a tombstone (kept if already there)."""
        raise NotImplementedError

    def destroy_all(self, subjects: Iterable[str]) -> list[str]:
        """`destroy` for many at once (erasures re-applied on start); returns those whose row
        changed: a key destroyed, or a tombstone made where there was no row."""
        changed = []
        for subject in dict.fromkeys(subjects):
            if self.fetch(subject) != (True, None):
                self.destroy(subject)
                changed.append(subject)
        return changed

    def rewrap(self, plain_only: bool = False) -> int:
        """Wrap with the current wrapping key every key not wrapped with it yet (`plain_only`:
        only those stored unwrapped, by an earlier version); returns how many."""
        return 0

    def close(self) -> None:
        pass

    def _opened(self, subject: str, key: str | None, wrapping_key_id: str | None) -> str | None:
        if key is None or wrapping_key_id is None:
            return key  # a tombstone, or a key stored unwrapped by an earlier version (wrapped on the next start)
        if self.wrapping is None:
            raise WrappingKeyError(f"participant keys are wrapped: give the wrapping key ({VALUE_SETTING} or {FILE_SETTING})")
        return self.wrapping.unwrap(subject, wrapping_key_id, key)

    def _stored(self, subject: str, key: str) -> tuple[str, str | None]:
        """(what the row holds, the wrapping key's id)."""
        if self.wrapping is None:
            return key, None
        wrapping_key_id, wrapped = self.wrapping.wrap(subject, key)
        return wrapped, wrapping_key_id


class MemoryKeyStore(KeyStore):
    """For tests and in-memory event stores: one per process, shared by its applications."""

    def __init__(self) -> None:
        self.rows: dict[str, str | None] = {}
        self.lock = threading.Lock()

    def fetch(self, subject: str) -> tuple[bool, str | None]:
        with self.lock:
            return (subject in self.rows, self.rows.get(subject))

    def create(self, keys: Mapping[str, str]) -> None:
        with self.lock:
            for subject, key in keys.items():
                self.rows.setdefault(subject, key)

    def destroy(self, subject: str) -> None:
        with self.lock:
            self.rows[subject] = None


class SQLiteKeyStore(KeyStore):
    """A file every service process of one TANDEM_HOME opens."""

    def __init__(self, path: str | Path, lock_timeout: float = 10.0, wrapping: WrappingKeySource | None = None) -> None:
        self.path = str(path)
        if is_sqlite_file(self.path):
            private_sqlite_file(self.path)  # only its owner may read it, nor its -wal and -shm
        self.lock = threading.Lock()
        self.connection = sqlite3.connect(self.path, timeout=lock_timeout, check_same_thread=False, isolation_level=None)
        with self.lock:
            self.connection.execute("PRAGMA journal_mode=WAL")
            # A destroyed key is overwritten on disk, not merely unlinked from the b-tree.
            self.connection.execute("PRAGMA secure_delete=ON")
            with self._transaction():
                self.connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                    "participant_id TEXT PRIMARY KEY, key TEXT, created_at TEXT NOT NULL, erased_at TEXT, wrapping_key_id TEXT)"
                )
                columns = {row[1] for row in self.connection.execute(f"PRAGMA table_info({TABLE})")}
                if "wrapping_key_id" not in columns:  # a store written before keys were wrapped
                    self.connection.execute(f"ALTER TABLE {TABLE} ADD COLUMN wrapping_key_id TEXT")
            samples = self.connection.execute(  # one row per wrapping key in use
                f"SELECT participant_id, key, wrapping_key_id FROM {TABLE} "
                "WHERE key IS NOT NULL AND wrapping_key_id IS NOT NULL GROUP BY wrapping_key_id"
            ).fetchall()
        self.wrapping = open_wrapping(wrapping, samples, f"the key store {self.path}")
        if self.wrapping is not None:
            self.rewrap(plain_only=True)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def fetch(self, subject: str) -> tuple[bool, str | None]:
        with self.lock:
            row = self.connection.execute(f"SELECT key, wrapping_key_id FROM {TABLE} WHERE participant_id = ?", (subject,)).fetchone()
        return (False, None) if row is None else (True, self._opened(subject, *row))

    def fetch_many(self, subjects: Iterable[str]) -> dict[str, tuple[bool, str | None]]:
        wanted = list(dict.fromkeys(subjects))
        with self.lock:  # one statement, not a round trip per participant (an import's 10,000)
            rows = self.connection.execute(
                f"SELECT participant_id, key, wrapping_key_id FROM {TABLE} WHERE participant_id IN (SELECT value FROM json_each(?))",
                (json.dumps(wanted),),
            ).fetchall()
        found = {subject: (True, self._opened(subject, key, kid)) for subject, key, kid in rows}
        return {subject: found.get(subject, (False, None)) for subject in wanted}

    def create(self, keys: Mapping[str, str]) -> None:
        now = _now()
        rows = [(subject, *self._stored(subject, key), now) for subject, key in keys.items()]
        with self.lock, self._transaction():
            self.connection.executemany(
                f"INSERT INTO {TABLE} (participant_id, key, wrapping_key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )

    def rewrap(self, plain_only: bool = False) -> int:
        if self.wrapping is None:
            return 0
        which = "wrapping_key_id IS NULL" if plain_only else "(wrapping_key_id IS NULL OR wrapping_key_id <> ?)"
        done = 0
        with self.lock:
            while True:
                with self._transaction():  # a batch at a time, each from what is there now
                    rows = self.connection.execute(
                        f"SELECT participant_id, key, wrapping_key_id FROM {TABLE} WHERE key IS NOT NULL AND {which} LIMIT 1000",
                        () if plain_only else (self.wrapping.current,),
                    ).fetchall()
                    self.connection.executemany(
                        f"UPDATE {TABLE} SET key = ?, wrapping_key_id = ? WHERE participant_id = ? AND key = ?",
                        [(*self._stored(s, self._opened(s, key, kid) or ""), s, key) for s, key, kid in rows],
                    )
                if not rows:
                    break
                done += len(rows)
            if done:
                # The unwrapped or older values must not linger in the write-ahead log.
                self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    def destroy(self, subject: str) -> None:
        now = _now()
        with self.lock:
            self.connection.execute(
                f"INSERT INTO {TABLE} (participant_id, key, created_at, erased_at) VALUES (?, NULL, ?, ?) "
                "ON CONFLICT (participant_id) DO UPDATE SET key = NULL, erased_at = COALESCE(erased_at, excluded.erased_at)",
                (subject, now, now),
            )
            # Nothing of the key must linger in the write-ahead log either.
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def destroy_all(self, subjects: Iterable[str]) -> list[str]:
        now = _now()
        with self.lock:
            # One statement: rows already tombstoned are only read, not written again.
            changed = self.connection.execute(
                f"INSERT INTO {TABLE} (participant_id, key, created_at, erased_at) "
                "SELECT value, NULL, ?, ? FROM json_each(?) WHERE true "
                "ON CONFLICT (participant_id) DO UPDATE SET key = NULL, erased_at = COALESCE(erased_at, excluded.erased_at) "
                "WHERE key IS NOT NULL RETURNING participant_id",
                (now, now, json.dumps(list(dict.fromkeys(subjects)))),
            ).fetchall()
            if changed:
                self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return [row[0] for row in changed]

    def close(self) -> None:
        with self.lock:
            self.connection.close()


class PostgresKeyStore(KeyStore):
    """A table in a database every service reaches (PostgreSQL keeps a destroyed key's old
    row version until VACUUM: autovacuum, or VACUUM the table after erasures)."""

    def __init__(
        self,
        host: str,
        port: str | int,
        dbname: str,
        user: str,
        password: str,
        schema: str | None = None,
        *,
        wrapping: WrappingKeySource | None = None,
    ) -> None:
        import psycopg  # the postgres extra

        self._psycopg = psycopg
        self.conninfo: dict[str, Any] = {"host": host, "port": int(port), "dbname": dbname, "user": user, "password": password}
        self.table = f"{schema}.{TABLE}" if schema else TABLE
        self.lock = threading.Lock()
        self.connection: Any = None
        self._run(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "participant_id text PRIMARY KEY, key text, created_at timestamptz NOT NULL DEFAULT now(), erased_at timestamptz, "
            "wrapping_key_id text)"
        )
        # A table written before keys were wrapped (looked up first: ALTER TABLE locks the table
        # even when there is nothing to add).
        if not self._run(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = 'wrapping_key_id' "
            "AND table_schema = COALESCE(%s, current_schema())",
            (TABLE, schema),
            fetch=True,
        ):
            self._run(f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS wrapping_key_id text")
        samples = self._run(  # one row per wrapping key in use
            f"SELECT DISTINCT ON (wrapping_key_id) participant_id, key, wrapping_key_id FROM {self.table} "
            "WHERE key IS NOT NULL AND wrapping_key_id IS NOT NULL",
            fetch_all=True,
        )
        self.wrapping = open_wrapping(wrapping, samples, f"the key store {self.table} in database {dbname}")
        if self.wrapping is not None:
            self.rewrap(plain_only=True)

    def _run(self, sql: str, params: Any = None, *, many: bool = False, fetch: bool = False, fetch_all: bool = False) -> Any:
        with self.lock:
            for attempt in (1, 2):  # a connection dropped meanwhile is opened again, once
                try:
                    if self.connection is None or self.connection.closed:
                        self.connection = self._psycopg.connect(**self.conninfo, autocommit=True)
                    with self.connection.transaction(), self.connection.cursor() as cursor:
                        if many:
                            cursor.executemany(sql, params)
                        else:
                            cursor.execute(sql, params)
                        return cursor.fetchall() if fetch_all else cursor.fetchone() if fetch else None
                except self._psycopg.OperationalError:
                    self.connection = None
                    if attempt == 2:
                        raise
        return None

    def fetch(self, subject: str) -> tuple[bool, str | None]:
        row = self._run(f"SELECT key, wrapping_key_id FROM {self.table} WHERE participant_id = %s", (subject,), fetch=True)
        return (False, None) if row is None else (True, self._opened(subject, *row))

    def fetch_many(self, subjects: Iterable[str]) -> dict[str, tuple[bool, str | None]]:
        wanted = list(dict.fromkeys(subjects))
        rows = self._run(
            f"SELECT participant_id, key, wrapping_key_id FROM {self.table} WHERE participant_id = ANY(%s)", (wanted,), fetch_all=True
        )
        found = {subject: (True, self._opened(subject, key, kid)) for subject, key, kid in rows}
        return {subject: found.get(subject, (False, None)) for subject in wanted}

    def create(self, keys: Mapping[str, str]) -> None:
        self._run(
            f"INSERT INTO {self.table} (participant_id, key, wrapping_key_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(subject, *self._stored(subject, key)) for subject, key in keys.items()],
            many=True,
        )

    def rewrap(self, plain_only: bool = False) -> int:
        if self.wrapping is None:
            return 0
        which = "wrapping_key_id IS NULL" if plain_only else "wrapping_key_id IS DISTINCT FROM %s"
        done = 0
        while rows := self._run(
            f"SELECT participant_id, key, wrapping_key_id FROM {self.table} WHERE key IS NOT NULL AND {which} LIMIT 1000",
            () if plain_only else (self.wrapping.current,),
            fetch_all=True,
        ):
            # Each row only if unchanged meanwhile (another process may be re-wrapping, or erasing).
            self._run(
                f"UPDATE {self.table} SET key = %s, wrapping_key_id = %s WHERE participant_id = %s AND key = %s",
                [(*self._stored(s, self._opened(s, key, kid) or ""), s, key) for s, key, kid in rows],
                many=True,
            )
            done += len(rows)
        return done

    def destroy(self, subject: str) -> None:
        self._run(
            f"INSERT INTO {self.table} AS kept (participant_id, key, erased_at) VALUES (%s, NULL, now()) "
            "ON CONFLICT (participant_id) DO UPDATE SET key = NULL, erased_at = COALESCE(kept.erased_at, now())",
            (subject,),
        )

    def destroy_all(self, subjects: Iterable[str]) -> list[str]:
        rows = self._run(
            f"INSERT INTO {self.table} AS kept (participant_id, key, erased_at) SELECT unnest(%s::text[]), NULL, now() "
            "ON CONFLICT (participant_id) DO UPDATE SET key = NULL, erased_at = COALESCE(kept.erased_at, now()) "
            "WHERE kept.key IS NOT NULL RETURNING participant_id",
            (list(dict.fromkeys(subjects)),),
            fetch_all=True,
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        with self.lock:
            if self.connection is not None:
                self.connection.close()


_ERASED = object()  # in the cache: the key is destroyed
_PROCESS_MEMORY_STORE = MemoryKeyStore()


class PersonalDataKeys:
    """Seals and opens personal values with their participant's key (contracts.personal.Keys).

    Keys are cached in memory. A process drops a participant's key as soon as it learns of
    their erasure: `erase` (enrolment, which destroys it) or `forget` (the others, when they
    consume ParticipantErased).

    A token that does not open where it is read (another participant's, field's or
    subsidiary's, damaged, or under a key that is not theirs) reads as None, as if erased: one
    forged value must never stop a read model, a consumer or a start-up. Each distinct one is
    counted and logged once, by where it was and why, never by what it holds (`unopenable`)."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._cache: dict[str, Any] = {}  # subject -> AESGCM, _ERASED, or None (no key yet)
        self._lock = threading.RLock()
        self.unopenable = Unopenable()

    @classmethod
    def from_env(cls, env: Environment | Mapping[str, str]) -> "PersonalDataKeys":
        return cls(key_store_from(env))

    # -- contracts.personal.Keys ----------------------------------------------------------

    def seal(self, binding: Binding, value: Any) -> str | None:
        cipher = self._cipher(binding.subject, create=True)
        if cipher is None:
            return None  # erased: nothing of theirs is kept any more
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = nonce + cipher.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), binding.associated_data())
        return token(binding.subject, base64.urlsafe_b64encode(ciphertext).decode())

    def unseal(self, sealed: str, binding: Binding) -> Any:
        version, subject, ciphertext = parse_token(sealed)
        if subject != binding.subject:
            return self.unopenable.note(sealed, binding, "sealed for another participant")
        try:
            cipher = self._cipher(subject, create=False)
        except WrappingKeyError:  # a key row altered, or copied from another participant
            return self.unopenable.note(sealed, binding, "its participant's key does not unwrap")
        if cipher is None:
            if self.is_erased(subject):
                return None
            return self.unopenable.note(sealed, binding, "no key for its participant")
        try:
            raw = base64.urlsafe_b64decode(ciphertext)
            if version == 1:  # before binding: AESCipher's layout, nonce then tag then data
                plaintext = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES + TAG_BYTES :] + raw[NONCE_BYTES : NONCE_BYTES + TAG_BYTES], None)
            else:
                plaintext = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding.associated_data())
            return json.loads(plaintext)
        except (InvalidTag, ValueError):  # binascii.Error and JSON errors are ValueErrors
            return self.unopenable.note(sealed, binding, "does not open there (moved, damaged or forged)")

    def is_erased(self, subject: str) -> bool:
        with self._lock:
            if subject not in self._cache:
                self._load(subject)
            return self._cache[subject] is _ERASED

    # -- keys -----------------------------------------------------------------------------

    def provide(self, subjects: Iterable[str | UUID]) -> None:
        """Make sure these participants have a key, in one transaction (a bulk enrolment
        would otherwise make them one by one as it stores each event)."""
        with self._lock:
            missing = [str(s) for s in subjects if self._cache.get(str(s)) is None]
            if missing:
                self.store.create({subject: new_key() for subject in missing})
                # Read back in one go: ours, or the key another process made first.
                for subject, (found, key) in self.store.fetch_many(missing).items():
                    self._cache[subject] = _entry(found, key)

    def erase(self, subject: str | UUID) -> None:
        """Destroy the participant's key for good (again, if already destroyed)."""
        with self._lock:
            self.store.destroy(str(subject))
            self._cache[str(subject)] = _ERASED

    def forget(self, subject: str | UUID) -> None:
        """This process learnt of the participant's erasure: their key is never used again here."""
        with self._lock:
            self._cache[str(subject)] = _ERASED

    def close(self) -> None:
        self.store.close()

    def _cipher(self, subject: str, create: bool) -> AESGCM | None:
        with self._lock:
            cached = self._cache.get(subject)
            if cached is None:  # not cached, or no key when last looked: look again
                cached = self._load(subject)
                if cached is None and create:
                    self.store.create({subject: new_key()})
                    cached = self._load(subject)  # ours, or the one another process made first
            return cached if isinstance(cached, AESGCM) else None

    def _load(self, subject: str) -> Any:
        entry = self._cache[subject] = _entry(*self.store.fetch(subject))
        return entry


def _entry(found: bool, key: str | None) -> Any:
    """What the cache keeps for a key store's row: the cipher, _ERASED, or None (no row)."""
    return AESGCM(base64.b64decode(key)) if key is not None else _ERASED if found else None


class Unopenable:
    """The sealed values a process met that did not open, for /healthz and the logs: how
    many distinct ones, by field, and the last few places (never their content)."""

    KEPT = 10_000  # distinct tokens remembered, so each is logged and counted once

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self.count = 0
        self.by_field: Counter[str] = Counter()
        self.last: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def note(self, sealed: str, binding: Binding, why: str) -> None:
        with self._lock:
            fingerprint = hash(sealed)
            if fingerprint in self._seen:
                return None
            if len(self._seen) < self.KEPT:
                self._seen.add(fingerprint)
            self.count += 1
            self.by_field[binding.field] += 1
            place = {"subsidiary": binding.subsidiary, "participant": binding.subject, "field": binding.field, "why": why}
            self.last = [*self.last[-4:], place]
        log.warning(
            "a sealed %s of participant %s in subsidiary %s reads as unavailable: %s",
            binding.field, binding.subject, binding.subsidiary, why,
        )
        return None

    def report(self) -> dict[str, Any]:
        with self._lock:
            # No "ok": a forged value stays in a chained store for good, and the service is
            # not degraded by it (it reads as unavailable); the count is for whoever looks.
            return {"unopenable": self.count, "by_field": dict(self.by_field), "last": list(self.last)}


def new_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode()


def key_store_from(env: Environment | Mapping[str, str]) -> KeyStore:
    """The key store the settings name (see the module's docstring)."""

    def get(name: str, default: str | None = None) -> str | None:
        return env.get(name) or default

    kind = get("TANDEM_KEY_STORE") or {
        "eventsourcing.postgres": "postgres",
        "eventsourcing.sqlite": "sqlite",
    }.get(get("PERSISTENCE_MODULE") or "", "memory")
    if kind == "memory":
        return _PROCESS_MEMORY_STORE
    home = get("TANDEM_HOME")
    if kind == "sqlite":
        path = get("TANDEM_KEYS_DBNAME") or str(Path(home or _beside(get("SQLITE_DBNAME")) or ".tandem") / "keys.db")
        wrapping = wrapping_key_source(get("TANDEM_KEYS_WRAPPING_KEY"), get("TANDEM_KEYS_WRAPPING_KEY_FILE"), Path(home or Path(path).parent))
        return SQLiteKeyStore(path, float(get("SQLITE_LOCK_TIMEOUT") or 10), wrapping)
    if kind == "postgres":
        def setting(name: str) -> str:
            value = get(f"TANDEM_KEYS_POSTGRES_{name}") or get(f"POSTGRES_{name}")
            if not value:
                raise ValueError(f"the key store needs TANDEM_KEYS_POSTGRES_{name} or POSTGRES_{name}")
            return value

        schema = get("TANDEM_KEYS_POSTGRES_SCHEMA") or get("POSTGRES_SCHEMA")
        wrapping = wrapping_key_source(get("TANDEM_KEYS_WRAPPING_KEY"), get("TANDEM_KEYS_WRAPPING_KEY_FILE"), Path(home or ".tandem"))
        return PostgresKeyStore(
            setting("HOST"), setting("PORT"), setting("DBNAME"), setting("USER"), setting("PASSWORD"), schema, wrapping=wrapping
        )
    raise ValueError(f"TANDEM_KEY_STORE is {kind!r}: use sqlite, postgres or memory")


def _beside(event_store: str | None) -> str | None:
    """The folder of an SQLite event store file (not an in-memory one)."""
    if not event_store or event_store == ":memory:" or event_store.startswith("file:"):
        return None
    return str(Path(event_store).parent)


class SealingMapper(Mapper[UUID]):
    """The library's mapper, with each event's personal fields sealed with their subject's
    key when the event is first stored, and opened when it is read (so every reader, views,
    repository, audit, sees the plaintext or None once erased). Which fields: `personal`,
    by event class, {dotted path in the event: dotted path of its participant id}."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        *,
        keys: PersonalDataKeys,
        personal: Mapping[type, PersonalFields],
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.keys = keys
        self.personal = personal

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = self.personal.get(type(domain_event))
        if fields:
            # A sealed copy: the event's own state is shared with its aggregate.
            state = copied_along(vars(domain_event), fields)
            seal_fields(state, fields, self.keys, subsidiary_of(state))
            sealed = object.__new__(type(domain_event))
            object.__setattr__(sealed, "__dict__", state)
            domain_event = sealed
        return super().to_stored_event(domain_event)

    def to_sealed_domain_event(self, stored_event: StoredEvent, *, shown: bool = False) -> Any:
        """The event with its personal values as stored: sealed (for a relay, which publishes
        them as they are: nothing to open and seal again, and nothing personal in the clear).
        `shown` (an auditor's sealed view): a value stored in plaintext, before sealing began,
        reads as None once its subject is erased, as it does opened."""
        domain_event = super().to_domain_event(stored_event)
        fields = self.personal.get(type(domain_event)) if shown else None
        if fields:
            for container, key, subject in personal_values(domain_event.__dict__, fields):
                if container[key] is not None and not is_token(container[key]) and self.keys.is_erased(subject):
                    container[key] = None
        return domain_event

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        fields = self.personal.get(type(domain_event))
        if fields:
            open_fields(domain_event.__dict__, fields, self.keys, subsidiary_of(domain_event.__dict__))
        return domain_event


def subsidiary_of(state: Mapping[str, Any]) -> str:
    """The subsidiary a stored event's sealed values are bound to: the one its context names
    (every command's event has it; the same slug its published event carries)."""
    context = state.get("context")
    subsidiary = context.get("subsidiary_id") if isinstance(context, Mapping) else None
    return str(subsidiary or state.get("subsidiary_id") or "")


def _now() -> str:
    return datetime.now(UTC).isoformat()
