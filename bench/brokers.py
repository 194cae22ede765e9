"""Benchmark: the same measurements on Apache Kafka and on Tansu, in one run.

    .venv/bin/python bench/brokers.py [--broker both|apache|tansu] [--messages 20000] [--repeats 3]
        [--participants 5000] [--soak-subsidiaries 4] [--soak-participants 500] [--soak-rounds 2]
        [--json PATH]

It starts both brokers itself (and ignores KAFKA_BOOTSTRAP_SERVERS): the embedded Tansu
(infra/broker.py) and a one-node Apache Kafka (infra/apache_kafka.py, jars from
TANDEM_APACHE_KAFKA_HOME). Both run for the whole benchmark, and every measurement runs on
each of them in turn, the order rotated between repeats, so that a drift of the shared
machine favours neither. On each broker:

* raw kafka-python, the anchor: `--messages` messages of `--message-bytes` with the
  platform's key and headers, produced with the platform's producer
  (services.common.kafka.create_producer), then read back by a plain consumer (the
  platform's settings, partitions assigned, no group); the slower of the two rates;
* the enrolment import, as bench/enrolment_import.py times it: POST a CSV file of
  `--participants` to the real enrolment service until the last ParticipantEnrolled is read
  from the topic;
* the soak, bench/soak.py's fault scenario, smaller: the same load clean and with every
  service and relay SIGKILLed at seeded moments, each run ending with the suite's checks.

Each figure is reported as its median, its ratio to the raw figure on the same broker, and
Apache ÷ Tansu. Results go to bench/results/brokers-<time>.json (or --json) and a Markdown
table to stdout. Exit 1 if a run failed or a soak check did not hold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]  # runnable as a plain script from anywhere

from kafka import TopicPartition  # noqa: E402

import enrolment_import as imports  # noqa: E402  (bench/, beside this script)
import soak  # noqa: E402  (puts tests/ and tests/reliability/ on the path for the scenario)
from contracts.topics import Topics  # noqa: E402
from environment import scrub_environment  # noqa: E402
from infra.apache_kafka import KAFKA_VERSION, ApacheKafkaCluster, missing  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from services.common.kafka import create_consumer, create_producer  # noqa: E402

BROKERS = {"apache": f"Apache Kafka {KAFKA_VERSION}", "tansu": "Tansu"}
PARTITIONS = 3  # what `tandem topics` gives every topic
_SCRUBBED_EXACT = imports._SCRUBBED_EXACT | {"KAFKA_BOOTSTRAP_SERVERS"}
_RUNNING: list[Any] = []  # the brokers, stopped on any exit


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# (a) raw kafka-python on the broker: the anchor
# ---------------------------------------------------------------------------------------


def raw_messages(count: int, value_bytes: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """Messages shaped like the platform's (contracts.wire.encode): the subsidiary as key,
    the four headers, a JSON value of about `value_bytes`."""
    messages = []
    for n in range(count):
        subsidiary = f"bench-{n % 10:02d}"
        head = f'{{"type":"ParticipantEnrolled","event_id":"{uuid.uuid4()}","subsidiary_id":"{subsidiary}","payload":"'
        value = (head + uuid.uuid4().hex * (value_bytes // 32 + 1))[: value_bytes - 2] + '"}'
        headers = [("type", b"ParticipantEnrolled"), ("schema_version", b"1"), ("event_id", str(uuid.uuid4()).encode()), ("subsidiary_id", subsidiary.encode())]
        messages.append((subsidiary.encode(), value.encode(), headers))
    return messages


def raw_produce_consume(bootstrap: str, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> dict[str, float]:
    """Seconds to produce (send all, flush) and then to consume every message of a fresh topic."""
    topic = f"bench{uuid.uuid4().hex[:8]}.raw"
    ensure_topics(bootstrap, [topic], partitions=PARTITIONS)
    # The warm-up send (connected before the clock starts, as the relay's producer is) is
    # read back below with the others.
    produce_s = imports.timed_sends(create_producer(bootstrap, client_id="bench-raw"), topic, messages)
    expected = len(messages) + 1
    consumer = create_consumer(bootstrap, None, client_id="bench-raw-consumer")
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        consumer.seek_to_beginning()
        read, deadline = 0, time.monotonic() + 120
        started = time.perf_counter()
        while read < expected:
            read += sum(len(records) for records in consumer.poll(timeout_ms=200).values())
            if time.monotonic() > deadline:
                raise imports.BenchTimeout(f"read {read} of {expected} raw messages in 120 s")
        consume_s = time.perf_counter() - started
    finally:
        consumer.close(autocommit=False)
    return {"produce_s": produce_s, "consume_s": consume_s}


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def start_brokers(names: list[str], workroot: Path) -> dict[str, str]:
    """Start the brokers asked for; their bootstrap servers by name."""
    bootstraps = {}
    for name in names:
        started = time.monotonic()
        if name == "tansu":
            broker: Any = EmbeddedBroker(port=imports.free_port(), log_path=workroot / "tansu.log")
        else:
            broker = ApacheKafkaCluster(workroot / "apache-kafka", size=1)
        _RUNNING.append(broker)
        broker.start()
        bootstraps[name] = broker.bootstrap_servers
        progress(f"{BROKERS[name]} at {broker.bootstrap_servers}, ready in {time.monotonic() - started:.1f} s")
    return bootstraps


def stop_brokers() -> None:
    for broker in reversed(_RUNNING):
        try:
            broker.stop()
        except Exception as exc:  # noqa: BLE001 - stop the others anyway
            progress(f"could not stop {broker!r}: {exc}")
    _RUNNING.clear()


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["apache", "tansu", "both"], default="both")
    parser.add_argument("--messages", type=int, default=20_000, help="raw kafka-python messages per repeat")
    parser.add_argument("--message-bytes", type=int, default=500, help="raw message value size")
    parser.add_argument("--participants", type=int, default=5_000, help="participants in the CSV import")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the raw and import measurements")
    parser.add_argument("--soak-subsidiaries", type=int, default=4)
    parser.add_argument("--soak-participants", type=int, default=500, help="per subsidiary")
    parser.add_argument("--soak-rounds", type=int, default=2, help="0: no soak")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--json", type=Path, help="default: bench/results/brokers-<time>.json")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="give up (and clean up) after this long")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (broker and service logs)")
    args = parser.parse_args(argv)
    if min(args.messages, args.participants, args.repeats, args.soak_subsidiaries, args.soak_participants) < 1 or args.soak_rounds < 0:
        parser.error("counts must be at least 1 (--soak-rounds at least 0)")
    names = ["apache", "tansu"] if args.broker == "both" else [args.broker]
    if "apache" in names and missing():
        parser.error(f"Apache Kafka cannot run here: {missing()}")

    deadline = imports.Deadline(time.monotonic() + args.max_seconds)
    load_at_start = os.getloadavg()[0]
    workroot = Path(tempfile.mkdtemp(prefix="tandem-bench-brokers-"))

    def on_signal(signum: int, _frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)
        why = "hard time limit (--max-seconds + 30 s)" if signum == signal.SIGALRM else signal.Signals(signum).name
        progress(f"\nbench stopped: {why}; stopping the services and the brokers")
        imports._stop_children()
        stop_brokers()
        progress(f"kept {workroot}")
        os._exit(124 if signum == signal.SIGALRM else 128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, on_signal)
    signal.alarm(int(args.max_seconds) + 30)

    removed = scrub_environment(("ENROLMENT_", "MATCHING_", "SESSIONS_", "BENCHANCHOR_"), _SCRUBBED_EXACT)
    if removed:
        progress(f"note: ignoring {', '.join(sorted(removed))} (the bench starts its own brokers and stores)")

    messages = raw_messages(args.messages, args.message_bytes)
    csv_body = imports.to_csv(imports.generate_participants(args.participants))
    figures: dict[str, dict[str, list[Any]]] = {name: {"produce": [], "consume": [], "import": [], "import_http": [], "soak": []} for name in names}
    failed = False
    try:
        bootstraps = start_brokers(names, workroot)
        for name in names:
            # Untimed: a JVM that just started runs its first requests interpreted, a
            # running platform's broker has long been compiled.
            raw_produce_consume(bootstraps[name], messages)
        progress("brokers warmed up (one untimed raw pass each)")
        for repeat in range(args.repeats):
            order = rotated(names, repeat)
            progress(f"repeat {repeat + 1}/{args.repeats}: {' → '.join(order)}")
            for name in order:
                deadline.check()
                raw = raw_produce_consume(bootstraps[name], messages)
                figures[name]["produce"].append(raw["produce_s"])
                figures[name]["consume"].append(raw["consume_s"])
                progress(f"  {name}: raw produce {raw['produce_s']:.2f} s, consume {raw['consume_s']:.2f} s")
            for name in order:
                deadline.check()
                workdir = workroot / f"import-{name}-{repeat + 1}"
                workdir.mkdir()
                prefix = f"bench{uuid.uuid4().hex[:8]}"
                ensure_topics(bootstraps[name], Topics(prefix).all(), partitions=PARTITIONS)
                with (workdir / "enrolment.log").open("ab") as log:
                    run = imports.run_import(bootstraps[name], prefix, workdir, csv_body, args.participants, deadline, log)
                figures[name]["import"].append(run.end_to_end_s)
                figures[name]["import_http"].append(run.http_s)
                progress(f"  {name}: import end to end {run.end_to_end_s:.2f} s (HTTP {run.http_s:.2f} s, {run.duplicates} duplicates)")
        for n in range(args.soak_rounds):
            for name in rotated(names, n):
                result: dict[str, Any] = {}
                # As bench/soak.py does: alternate which goes first.
                for kind in (("clean", "faults") if n % 2 == 0 else ("faults", "clean")):
                    deadline.check()
                    work = workroot / f"soak-{name}-{n + 1}-{kind}"
                    work.mkdir()
                    try:
                        result[kind] = soak.one_run(work, args.soak_subsidiaries, args.soak_participants, args.seed + n if kind == "faults" else None, bootstraps[name])
                    except AssertionError as exc:
                        failed = True
                        result[kind] = {"error": str(exc)[:2000]}
                    progress(f"  {name}: soak round {n + 1} {kind}: {result[kind]}")
                figures[name]["soak"].append(result)
    except BaseException as exc:
        failed = True
        progress(f"bench failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.alarm(0)
        imports._stop_children()
        stop_brokers()
        if args.keep or failed:
            progress(f"kept {workroot} (broker logs, import-*/enrolment.log, soak-*/)")
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    report = summarise(figures, args, (load_at_start, os.getloadavg()[0]))
    print(report.pop("markdown"))
    path = args.json or BENCH / "results" / f"brokers-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    progress(f"figures written to {path}")
    return 1 if failed else 0


def summarise(figures: dict[str, dict[str, list[Any]]], args: argparse.Namespace, load: tuple[float, float]) -> dict[str, Any]:
    """Rates (per second) by measurement and broker: medians, ÷ raw on the same broker, Apache ÷ Tansu."""
    n, people = args.messages, args.participants
    rates: dict[str, dict[str, list[float]]] = {}
    for name, f in figures.items():
        ok = [r for r in f["soak"] if "error" not in r.get("clean", {}) and "error" not in r.get("faults", {})]
        rates[name] = {
            "produce": [n / s for s in f["produce"]],
            "consume": [n / s for s in f["consume"]],
            "import": [people / s for s in f["import"]],
            "import_http": [people / s for s in f["import_http"]],
            "soak_clean": [r["clean"]["rate"] for r in ok],
            "soak_faults": [r["faults"]["rate"] for r in ok],
        }
        # The anchor: raw kafka-python on this broker, the slower of producing and consuming.
        rates[name]["raw"] = [min(p, c) for p, c in zip(rates[name]["produce"], rates[name]["consume"])]
    medians = {name: {key: statistics.median(v) for key, v in r.items() if v} for name, r in rates.items()}
    rows = [
        ("raw", f"**Raw kafka-python** (anchor): {n:,} messages of {args.message_bytes} bytes, the slower of produce and consume, msgs/s"),
        ("produce", "raw produce: `create_producer`, send all + flush, msgs/s"),
        ("consume", "raw consume: plain consumer (assigned, no group), msgs/s"),
        ("import", f"**Enrolment import** end to end: POST {people:,} (text/csv) → last `ParticipantEnrolled` read, participants/s"),
        ("import_http", "import, HTTP alone (response received), participants/s"),
        ("soak_clean", f"**Soak** clean: {args.soak_subsidiaries} × {args.soak_participants} enrolled by CSV files of 50, people/s"),
        ("soak_faults", "soak with faults (services and relays SIGKILLed, restarted), people/s"),
    ]
    present = [name for name in BROKERS if name in medians]
    header = "| Measurement | " + " | ".join(f"{BROKERS[b]} median | ÷ raw" for b in present) + (" | Apache ÷ Tansu |" if len(present) == 2 else "")
    lines = [
        f"Apache Kafka {KAFKA_VERSION} (one KRaft node) and Tansu, each measurement on both in turn, "
        f"{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"medians of {args.repeats} repeat(s) (soak: {args.soak_rounds} round(s)); "
        f"1-min load average {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        header,
        "|---|" + "---:|---:|" * len(present) + ("---:|" if len(present) == 2 else ""),
    ]
    for key, label in rows:
        if not all(key in medians[b] for b in present):
            continue
        cells = [f"{medians[b][key]:,.0f} | {medians[b][key] / medians[b]['raw']:.3f}" for b in present]
        between = f" {medians['apache'][key] / medians['tansu'][key]:.2f} |" if len(present) == 2 else ""
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + between)
    lines.append("")
    for b in present:
        spread = {key: ", ".join(f"{v:,.0f}" for v in rates[b][key]) for key in ("raw", "import") if rates[b][key]}
        soaks = [r for r in figures[b]["soak"] if "error" not in r.get("clean", {}) and "error" not in r.get("faults", {})]
        soak_text = ""
        if soaks:
            ratio = statistics.median(r["faults"]["rate"] / r["clean"]["rate"] for r in soaks)
            converge = ", ".join(f"{r['clean']['converge_seconds']:.1f} s clean, {r['faults']['converge_seconds']:.1f} s with faults" for r in soaks)
            kills = statistics.median(sum(r["faults"]["kills"].values()) for r in soaks)
            soak_text = f"; soak faults ÷ clean {ratio:.2f}, converged after {converge}, {kills:g} kills, checks held in {len(soaks)} of {len(figures[b]['soak'])} round(s)"
        lines.append(f"{BROKERS[b]}, per repeat: raw {spread.get('raw', '–')} msgs/s; import {spread.get('import', '–')} participants/s{soak_text}.")
    return {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "brokers": {b: BROKERS[b] for b in present},
        "load_average_1min": {"start": load[0], "end": load[1]},
        "seconds": {b: {k: v for k, v in figures[b].items() if k != "soak"} for b in present},
        "soak": {b: figures[b]["soak"] for b in present},
        "rates_per_second": rates,
        "median_rates": medians,
        "ratio_to_raw": {b: {k: v / medians[b]["raw"] for k, v in medians[b].items()} for b in present},
        "apache_over_tansu": {k: medians["apache"][k] / medians["tansu"][k] for k in medians.get("apache", {}) if k in medians.get("tansu", {})},
        "markdown": "\n".join(lines),
    }


if __name__ == "__main__":
    sys.exit(main())
