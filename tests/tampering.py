"""What someone with write access to a service's SQLite event store can do to its history
(tests/api/test_checkpoints.py, tests/integration/test_auditing_the_platform.py): change a
stored event and recompute every link after it, so the chain is consistent again; or cut the
tail of a log with its links, which leaves a shorter valid chain."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from uuid import UUID

from services.common.chain import CHAIN_TABLE, link_hash


def store(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def rewrite_capacity_and_relink(db_path: Path, log: str, old: int, new: int) -> int:
    """Change the programme's mentor_capacity from `old` to `new` in its stored event, then
    recompute the link of that event and of every later one. Returns the changed position."""
    pattern = rb'("mentor_capacity":\s*)' + str(old).encode() + rb"\b"
    with store(db_path) as db:
        rows = db.execute(
            f"SELECT k.position, k.notification_id, k.recorded_at, k.prev_hash, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM {CHAIN_TABLE} k JOIN stored_events e ON e.rowid = k.notification_id WHERE k.log = ? ORDER BY k.position",
            (log,),
        ).fetchall()
        changed = next(r[0] for r in rows if r[6].endswith("ProgrammeConfigured") and re.search(pattern, r[7]))
        prev_hash = ""
        for position, notification_id, recorded_at, old_prev, originator_id, version, topic, state in rows:
            if position < changed:
                continue
            if position == changed:
                state = re.sub(pattern, rb"\g<1>" + str(new).encode(), state)
                db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, notification_id))
                prev_hash = old_prev
            new_hash = link_hash(prev_hash, log, position, recorded_at, str(UUID(str(originator_id))), version, topic, state)
            db.execute(f"UPDATE {CHAIN_TABLE} SET hash = ?, prev_hash = ? WHERE log = ? AND position = ?", (new_hash, prev_hash, log, position))
            prev_hash = new_hash
    return changed


def cut_tail(db_path: Path, log: str, keep: int) -> None:
    """Delete the log's events after position `keep`, with their links."""
    with store(db_path) as db:
        ids = [r[0] for r in db.execute(f"SELECT notification_id FROM {CHAIN_TABLE} WHERE log = ? AND position > ?", (log, keep))]
        db.executemany("DELETE FROM stored_events WHERE rowid = ?", [(i,) for i in ids])
        db.execute(f"DELETE FROM {CHAIN_TABLE} WHERE log = ? AND position > ?", (log, keep))
