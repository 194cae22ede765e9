"""Where an enrolment CSV import spends its time: the service's own code, in one process.

    .venv/bin/python bench/profile_enrolment_import.py [--participants 10000] [--cprofile]

Runs the import's steps in order against a fresh SQLite store and an embedded broker (or
KAFKA_BOOTSTRAP_SERVERS), timing each one: CSV parse and validation, profile(), enrol()
(checks, aggregates, one save), then the outbox relay publishing everything. With
--cprofile it also prints the top functions of enrol() and of the relay by cumulative and
by own time. No HTTP and no uvicorn: for those, compare with bench/enrolment_import.py.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.dont_write_bytecode = True  # no __pycache__ left in bench/ by importing the sibling script

from enrolment_import import free_port, generate_participants, scrub_environment, sqlite_env, to_csv  # noqa: E402

from contracts.topics import Topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.topics import ensure_topics  # noqa: E402
from eventsourcing.persistence import Tracking  # noqa: E402
from services.common.kafka import create_producer  # noqa: E402
from services.common.relay import Relay  # noqa: E402
from services.enrolment.api.csv_import import parse_participants  # noqa: E402
from services.enrolment.application import EnrolmentApplication  # noqa: E402
from services.enrolment.domain import Participant, email_claim_id  # noqa: E402
from services.enrolment.publishing import event_id, to_integration_event  # noqa: E402
from contracts import decode, encode  # noqa: E402
from contracts import enrolment as published  # noqa: E402
from contracts.envelope import Actor  # noqa: E402


def timed(label: str, fn, profile: cProfile.Profile | None = None):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        return fn()
    finally:
        if profile is not None:
            profile.disable()
        print(f"{label:<58} {time.perf_counter() - started:7.3f} s", flush=True)


def show(profile: cProfile.Profile, title: str, lines: int = 25) -> None:
    for sort in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(lines)
        print(f"\n===== {title}: by {sort} =====")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:8000])


def plain_json_enrolled(e: Any) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A candidate translation of Participant.Enrolled: the same message built from the
    stored event with json.dumps, without re-validating data validated at enrolment."""
    subsidiary = e.context["subsidiary_id"]
    eid = str(event_id(e))
    value = {
        "event_id": eid,
        "type": "ParticipantEnrolled",
        "schema_version": 1,
        "subsidiary_id": subsidiary,
        "occurred_at": e.timestamp.isoformat().replace("+00:00", "Z"),
        "producer": published.PRODUCER,
        "actor": e.context["actor"],
        "correlation_id": e.context["correlation_id"],
        "causation_id": e.context.get("causation_id"),
        "payload": {**e.profile, "participant_id": str(e.originator_id)},
    }
    headers = [("type", b"ParticipantEnrolled"), ("schema_version", b"1"), ("event_id", eid.encode()), ("subsidiary_id", subsidiary.encode())]
    return subsidiary.encode(), json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), headers


class CandidateRelay(Relay):
    """The service's relay with one change: ParticipantEnrolled built by plain_json_enrolled.
    An experiment to size the suggested fix; the service itself is untouched."""

    def publish_pending(self) -> int:
        position = self.position()
        notifications = self.app.recorder.select_notifications(start=position, limit=self.batch_size, inclusive_of_start=False)
        if not notifications:
            return 0
        if self._producer is None:
            self._producer = create_producer(self.bootstrap_servers, client_id=self.tracking_name)
        futures = []
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            if isinstance(domain_event, Participant.Enrolled):
                key, value, headers = plain_json_enrolled(domain_event)
            else:
                event = self.translate(domain_event)
                if event is None:
                    continue
                key, value, headers = encode(event)
            futures.append(self._producer.send(self.topic, key=key, value=value, headers=headers))
        self._producer.flush()
        for future in futures:
            future.get(timeout=30)
        self.tracking.insert_tracking(Tracking(self.tracking_name, notifications[-1].id))
        return len(notifications)


def breakdown(app: EnrolmentApplication, body: bytes, context: dict[str, Any]) -> None:
    """Each step of the import and of the relay's work on its own, without profiler overhead."""
    print("\n-- breakdown of enrol(), replayed step by step for a second subsidiary --")
    app.onboard_subsidiary("bench-sub2", "Bench 2", "Europe/Paris", "fr-FR", {**context})
    timed("view.catch_up (the first import's events, once)", app.view.catch_up)
    participants, _ = parse_participants(body)
    profiles = [p.profile() for p in participants]
    subsidiary = app.get_subsidiary("bench-sub2")
    ctx = {**context, "subsidiary_id": "bench-sub2"}
    problems = timed(f"_check_profiles x{len(profiles)} (themes; one claim_held select each)", lambda: app._check_profiles(subsidiary, profiles))
    assert not problems
    aggregates = timed("Participant(...) aggregates", lambda: [Participant(subsidiary_id="bench-sub2", profile=p, context=ctx) for p in profiles])
    claims = timed(f"_claim_email x{len(aggregates)} (one claim_held select each)", lambda: [app._claim_email("bench-sub2", p.email, p.id) for p in aggregates])
    timed(f"save(*participants, *claims): {2 * len(aggregates)} events, one transaction", lambda: app.save(*aggregates, *claims))
    ids = [email_claim_id("bench-sub2", p.email) for p in aggregates]
    app.view.catch_up()
    timed(f"view.claim_held x{2 * len(ids)}, view caught up (as in enrol)", lambda: [app.view.claim_held(i) for i in ids * 2])
    timed(f"candidate: one catch_up, then {2 * len(ids)} dict lookups", lambda: (app.view.catch_up(), [app.view.claims.get(i) for i in ids * 2]))

    print("\n-- breakdown of the relay's work for the first import --")
    notes = timed("select_notifications (the first import, one call)", lambda: app.recorder.select_notifications(start=0, limit=len(profiles) * 2 + 2))
    events = timed(f"mapper.to_domain_event x{len(notes)}", lambda: [app.mapper.to_domain_event(x) for x in notes])
    enrolled = [e for e in events if isinstance(e, Participant.Enrolled)]
    integration = timed(f"to_integration_event x{len(enrolled)} Enrolled (pydantic validation)", lambda: [to_integration_event(e) for e in enrolled])
    encoded = timed(f"contracts.encode x{len(integration)} (model_dump_json, headers)", lambda: [encode(e) for e in integration])
    candidate = timed(f"candidate: dict + json.dumps x{len(enrolled)} (no re-validation)", lambda: [plain_json_enrolled(e) for e in enrolled])
    same = sum(decode(a[1]) == decode(b[1]) and a[0] == b[0] and a[2] == b[2] for a, b in zip(encoded, candidate))
    print(f"candidate messages equal to the current ones once decoded (key, headers, event): {same} of {len(encoded)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--candidate-relay", action="store_true", help="publish with CandidateRelay (an experiment)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-step timing of the relay's work")
    args = parser.parse_args()
    scrub_environment()
    n = args.participants
    body = to_csv(generate_participants(n))
    context = {"actor": {"subject": "bench", "role": "group-admin"}, "correlation_id": "c1", "causation_id": "c1"}
    with tempfile.TemporaryDirectory(prefix="tandem-profile-") as tmp:
        broker = None
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log").start()
            bootstrap = broker.bootstrap_servers
        try:
            prefix = f"prof{uuid.uuid4().hex[:8]}"
            ensure_topics(bootstrap, Topics(prefix).all())
            app = EnrolmentApplication(env=sqlite_env(Path(tmp) / "enrolment.db"))
            app.onboard_subsidiary("bench-sub", "Bench", "Europe/Paris", "fr-FR", {**context})
            relay = (CandidateRelay if args.candidate_relay else Relay)(app, to_integration_event, Topics(prefix).enrolment, bootstrap)
            timed("relay: onboarding events (producer connects)", relay.publish_all)

            enrol_profile = cProfile.Profile() if args.cprofile else None
            relay_profile = cProfile.Profile() if args.cprofile else None
            print(f"{n} participants, CSV {len(body) / 1e6:.2f} MB")
            participants, errors = timed("parse_participants (csv + ParticipantIn validation)", lambda: parse_participants(body))
            assert not errors, errors[:3]
            profiles = timed("ParticipantIn.profile() for every row", lambda: [p.profile() for p in participants])
            ids = timed("EnrolmentApplication.enrol (checks, aggregates, save)", lambda: app.enrol("bench-sub", profiles, context), enrol_profile)
            assert len(ids) == n
            count = timed("Relay.publish_all (read log, translate, produce, flush)", relay.publish_all, relay_profile)
            print(f"relay read {count} notifications ({n} ParticipantEnrolled published, the rest are email claims)")
            relay.stop()
            if not args.no_breakdown:
                breakdown(app, body, context)
            app.close()
            if enrol_profile is not None and relay_profile is not None:
                show(enrol_profile, "enrol()")
                show(relay_profile, "relay.publish_all()")
        finally:
            if broker is not None:
                broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
