"""Benchmark: what binding and validating sealed values cost a consumer, against the anchor of
reading the same messages without opening anything.

    .venv/bin/python bench/sealing.py [--messages 20000] [--repeats 5]

N real `ParticipantEnrolled` messages (four personal values each, `sealed:2:` bound to their
participant, field and subsidiary) are made once with real keys (an SQLite key store in a
temporary directory, the keys then cached, as in a running consumer). Each repeat then
times, in a rotated order:

* anchor: `model_validate_json` of each message: parsing and validating it as it came,
  opening nothing (what a reader without the keys pays);
* decode: `contracts.decode` with the keys, as the consumers run it: validated sealed, the
  four values opened (AES-GCM with associated data), validated again;
* context, seal: `encode` of the same events from plaintext (what a producer sealing pays).

Figures are medians over the repeats; read the ratio to the anchor of the same run. The
machine is shared and noisy: absolute rates from different runs are not comparable.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from contracts import decode, encode  # noqa: E402
from contracts.enrolment import ParticipantEnrolled  # noqa: E402
from services.common.personal_data import PersonalDataKeys, SQLiteKeyStore  # noqa: E402


def enrolled(n: int) -> ParticipantEnrolled:
    pid = uuid.uuid4()
    return ParticipantEnrolled(
        event_id=uuid.uuid4(), subsidiary_id="axa-fr", occurred_at=datetime.now(UTC), producer="enrolment",
        actor={"subject": "hr", "role": "group-admin"}, correlation_id="bench",
        payload={
            "participant_id": pid, "role": "mentee", "department": "IT", "site": "Paris", "languages": ["fr", "en"],
            "themes": ["networking", "online learning"], "availability": ["mon-am", "thu-pm"],
            "personal_data": {"name": f"Person {n}", "email": f"person.{n}@axa.fr", "birth_year": 1960 + n % 30, "manager_email": f"boss.{n % 50}@axa.fr"},
        },
    )


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tandem-bench-sealing-") as work:
        keys = PersonalDataKeys(SQLiteKeyStore(Path(work) / "keys.db"))
        events = [enrolled(n) for n in range(args.messages)]
        keys.provide(str(e.payload.participant_id) for e in events)
        values = [encode(e, keys)[1] for e in events]
        assert decode(values[0], keys) == events[0]

        runs = {
            "anchor: validate as it came": lambda: [ParticipantEnrolled.model_validate_json(v) for v in values],
            "decode: validate, open, validate": lambda: [decode(v, keys) for v in values],
            "context: encode (seal)": lambda: [encode(e, keys) for e in events],
        }
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for repeat in range(args.repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                seconds[name].append(timed(runs[name]))
        keys.close()

    anchor = args.messages / statistics.median(seconds[names[0]])
    print(f"| {args.messages:,} ParticipantEnrolled messages, {args.repeats} repeats | messages/s (median) | ratio to the anchor | ratios per repeat |")
    print("|---|---:|---:|---|")
    for name in names:
        rate = args.messages / statistics.median(seconds[name])
        per_repeat = ", ".join(f"{seconds[names[0]][i] / s:.2f}" for i, s in enumerate(seconds[name]))
        print(f"| {name} | {rate:,.0f} | {rate / anchor:.2f} | {per_repeat} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
