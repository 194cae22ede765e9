"""How long enrolment's start-up repair takes: every recorded erasure re-applied to the key
store (`EnrolmentApplication.reapply_erasures`), on a real SQLite event store holding
`--events` events of which `--erasures` are erasures, and a real keys.db with a wrapped key
per erased participant.

Two starts are measured: right after a key store was restored from a backup (every erased
participant's key is back: all destroyed again), and an ordinary start (all already
tombstones: read, nothing written).

    python bench/erasure_repair.py [--events 100000] [--erasures 10000]
"""

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from environment import scrub_environment  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore  # noqa: E402
from eventsourcing.utils import get_topic  # noqa: E402

from services.common.personal_data import key_store_from  # noqa: E402
from services.enrolment.application import EnrolmentApplication  # noqa: E402
from services.enrolment.domain import Participant  # noqa: E402


def fill(db: Path, events: int, erasures: int) -> list[str]:
    """The events table as enrolment's store holds it (written straight, without the chain:
    the repair reads only this table)."""
    recorder = SQLiteApplicationRecorder(SQLiteDatastore(str(db)))
    recorder.create_table()
    erased = [str(uuid.uuid4()) for _ in range(erasures)]
    other = get_topic(Participant.Enrolled)
    rows, step = [], max(events // max(erasures, 1), 1)
    pending = iter(erased)
    for n in range(events):
        subject = next(pending, None) if n % step == 0 else None
        topic = get_topic(Participant.Erased) if subject else other
        rows.append(StoredEvent(uuid.UUID(subject) if subject else uuid.uuid4(), 1, topic, b'{"context": {}}'))
        if len(rows) == 5000:
            recorder.insert_events(rows)
            rows = []
    if rows:
        recorder.insert_events(rows)
    return erased


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--erasures", type=int, default=10_000)
    args = parser.parse_args()
    scrub_environment(["ENROLMENT_"], exact=["TANDEM_HOME"])
    with tempfile.TemporaryDirectory() as work:
        home = Path(work)
        erased = fill(home / "enrolment.db", args.events, args.erasures)
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(home / "enrolment.db"), "TANDEM_HOME": str(home)}
        store = key_store_from(env)
        store.create({subject: "a2V5" * 11 for subject in erased})  # the restored backup: their keys are back
        store.close()
        results = {}
        # A start without the repair, then the repair alone: as right after a restore.
        repair = EnrolmentApplication.reapply_erasures
        EnrolmentApplication.reapply_erasures = lambda self: 0  # type: ignore[method-assign]
        began = time.perf_counter()
        app = EnrolmentApplication(env)
        results["start_without_repair_s"] = round(time.perf_counter() - began, 3)
        EnrolmentApplication.reapply_erasures = repair  # type: ignore[method-assign]
        began = time.perf_counter()
        topic = get_topic(Participant.Erased)
        found, position = 0, 1
        while rows := app.recorder.select_notifications(position, 1000, topics=(topic,)):
            found, position = found + len(rows), rows[-1].id + 1
        results["reading_the_erasures_s"] = round(time.perf_counter() - began, 3)
        began = time.perf_counter()
        changed = app.reapply_erasures()
        results["repair_after_a_restore_s"] = round(time.perf_counter() - began, 3)
        began = time.perf_counter()
        again = app.reapply_erasures()
        results["repair_on_an_ordinary_start_s"] = round(time.perf_counter() - began, 3)
        app.close()
        assert found == changed == len(erased) and again == 0
        print(json.dumps({"events": args.events, "erasures": args.erasures, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
