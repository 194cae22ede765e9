"""docker-compose.yml checked against the code, without Docker: every variable given to a
service is a setting something reads, ports and topic names agree, each service has its own
database, images are pinned, and the services' image runs as a non-root user.

The accepted names come from the code itself: the services' pydantic-settings classes, the
eventsourcing library's factories, the key store (`key_store_from`, run with its stores
stubbed, so whatever it reads is recorded) and the `tandem` command line's own reads."""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from eventsourcing.cryptography import AESCipher
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

import infra.cli
from contracts.topics import Topics
from infra.services import CONSOLE, SERVICES, url_variable
from services.common import personal_data
from services.common.application import ServiceApplication
from services.common.settings import ServiceSettings
from services.console.settings import ConsoleSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
INIT_SQL = ROOT / "infra" / "postgres" / "init.sql"
README = ROOT / "README.md"

Compose = dict[str, Any]


# -- reading the compose file ---------------------------------------------------------------


def load_compose() -> Compose:
    # safe_load resolves the anchors and the merge keys (<<) as compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose()


_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any) -> str:
    """A value as compose passes it when the variable is unset: `${X:-d}` gives d; `${X:?msg}`
    (required) gives a placeholder string; `${X}` gives ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op, arg = match.group("op"), match.group("arg")
        if op and op.endswith("-"):
            return arg
        if op and op.endswith("?"):
            return f"<{match.group('name')} required>"
        return ""

    return _INTERPOLATION.sub(replace, str(value))


def raw_env(service: Mapping[str, Any]) -> dict[str, Any]:
    """The service's environment as written (a mapping, or a list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def resolved_env(service: Mapping[str, Any]) -> dict[str, str]:
    return {name: interpolate(value) for name, value in raw_env(service).items()}


def tandem_containers(compose: Compose) -> dict[str, str]:
    """{compose service: Tandem module} for those that run `python -m services.<name>`."""
    found = {}
    for key, service in compose["services"].items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"] and command[2].startswith("services."):
            found[key] = command[2].removeprefix("services.")
    return found


def platform_services(compose: Compose) -> dict[str, str]:
    """The event-sourced services among them (each with its store, its topics, the secret)."""
    return {key: name for key, name in tandem_containers(compose).items() if name != CONSOLE.name}


def console_container(compose: Compose) -> str:
    (key,) = [key for key, name in tandem_containers(compose).items() if name == CONSOLE.name]
    return key


def topics_job(compose: Compose) -> str:
    (key,) = [key for key, service in compose["services"].items() if service.get("command") == ["tandem", "topics"]]
    return key


def by_image(compose: Compose, repository: str) -> str:
    (key,) = [key for key, service in compose["services"].items() if image_repository(service.get("image", "")) == repository]
    return key


def image_repository(image: str) -> str:
    return image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@", 1)[0]


def image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0].split("/")[-1]
    return name.split(":", 1)[1] if ":" in name else None


# -- what the code reads ----------------------------------------------------------------------


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    (cls,) = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__
    ]
    return cls


def application_class(service: str) -> type[ServiceApplication]:
    module = importlib.import_module(f"services.{service}.application")
    (cls,) = [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceApplication) and obj.__module__ == module.__name__
    ]
    return cls


def settings_names(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads, from its fields and config."""
    config = cls.model_config
    prefix = config.get("env_prefix") or ""
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias or field.alias
        if alias is None or config.get("populate_by_name"):
            names.add(prefix + name)
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names |= {c if isinstance(c, str) else str(c.path[0]) for c in alias.choices}
        elif isinstance(alias, AliasPath):
            names.add(str(alias.path[0]))
    return names if config.get("case_sensitive") else {n.upper() for n in names}


def setting_alias(cls: type[BaseSettings], field: str) -> str:
    alias = cls.model_fields[field].validation_alias
    assert isinstance(alias, str), f"{cls.__name__}.{field} has no single environment variable"
    return alias


@functools.cache
def eventsourcing_names() -> frozenset[str]:
    """The settings the eventsourcing library reads: its factories' names (PERSISTENCE_MODULE,
    POSTGRES_*, SQLITE_*, CIPHER_TOPIC, COMPRESSOR_TOPIC, ...) and the cipher's key."""
    names = {AESCipher.CIPHER_KEY}
    for factory in (PostgresFactory, SQLiteFactory):
        for attribute in dir(factory):
            value = getattr(factory, attribute)
            if attribute.isupper() and isinstance(value, str):
                names.add(value)
    return frozenset(names)


@functools.cache
def key_store_reads() -> frozenset[str]:
    """Every variable `key_store_from` reads, whichever store it picks (none is opened)."""
    read: set[str] = set()

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            if key.startswith("TANDEM_KEYS_"):
                return default  # unset, so that its fallback is read too
            return super().get(key, "1")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(personal_data, "SQLiteKeyStore", lambda *args, **kwargs: None)
        patch.setattr(personal_data, "PostgresKeyStore", lambda *args, **kwargs: None)
        for kind in ("postgres", "sqlite", "memory", None):
            personal_data.key_store_from(Recording({"TANDEM_KEY_STORE": kind}))
    return frozenset(read)


def documented_key_store_names() -> set[str]:
    """The TANDEM_KEY* names personal_data's docstring documents (``A_{B,C}`` is A_B and A_C)."""
    names = set()
    for stem, choices in re.findall(r"``(TANDEM_KEY[A-Z_]*)(?:\{([A-Z_,]+)\})?``", personal_data.__doc__ or ""):
        names |= {stem + choice for choice in choices.split(",")} if choices else {stem}
    return names


def environ_reads(module: Any) -> set[str]:
    """Names a module reads straight from os.environ (os.environ.get, os.environ[...], os.getenv)."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv") and node.args:
            argument = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            argument = node.slice
        else:
            continue
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
    return names


@functools.cache
def accepted_names(service: str) -> frozenset[str]:
    """What a Tandem service reads: its settings; the eventsourcing and key store settings,
    with or without its application's prefix (eventsourcing's Environment)."""
    prefix = application_class(service).name.upper() + "_"
    library = eventsourcing_names() | key_store_reads()
    return frozenset(settings_names(settings_class(service)) | library | {prefix + name for name in library})


@functools.cache
def topics_job_accepted_names() -> frozenset[str]:
    """What `tandem topics` reads: the shared settings and the command line's own variables."""
    return frozenset(settings_names(ServiceSettings) | environ_reads(infra.cli))


def unknown_variables(compose: Compose) -> dict[str, list[str]]:
    """{compose service: variables given to it that nothing reads}, for Tandem's containers."""
    accepted = {key: accepted_names(service) for key, service in platform_services(compose).items()}
    accepted[topics_job(compose)] = topics_job_accepted_names()
    unknown = {}
    for key, names in accepted.items():
        stray = sorted(name for name in raw_env(compose["services"][key]) if name.upper() not in names)
        if stray:
            unknown[key] = stray
    return unknown


@pytest.fixture(autouse=True)
def _no_stray_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks read the compose file's values, not this machine's environment."""
    names = topics_job_accepted_names() | {n for s in ("enrolment", "matching", "sessions") for n in accepted_names(s)} | settings_names(ConsoleSettings)
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)


def settings_of(cls: type[BaseSettings], env: Mapping[str, str]) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return cls()


# -- every variable is a setting ------------------------------------------------------------


def test_the_compose_file_runs_every_platform_service_and_the_topics_job(compose: Compose) -> None:
    running = platform_services(compose)
    assert sorted(running.values()) == sorted(spec.name for spec in SERVICES)
    for key, service in running.items():
        assert key == service, f"compose service {key!r} runs services.{service}"
    assert topics_job(compose)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tandem"] == f"{infra.cli.__name__}:{infra.cli.main.__name__}"


def test_every_variable_given_to_a_service_is_one_of_its_settings(compose: Compose) -> None:
    assert unknown_variables(compose) == {}


MISSPELT = [
    pytest.param("enrolment", "ENROLMENT_PROT", id="misspelt-port"),
    pytest.param("matching", "POSTGRES_DBNAM", id="misspelt-eventsourcing-setting"),
    pytest.param("sessions", "TANDEM_KEYS_POSTGRES_DBNAMES", id="misspelt-key-store-setting"),
    pytest.param("sessions", "SESSION_CONSUMER_GROUP", id="misspelt-service-setting"),
    pytest.param("enrolment", "MATCHING_POSTGRES_DBNAME", id="another-services-prefix"),
    pytest.param("enrolment", "TANDEM_TOPIC_PARTITIONS", id="a-topics-job-setting-given-to-a-service"),
    pytest.param("topics", "TANDEM_TOPIC_PARTITION", id="misspelt-topics-job-setting"),
]


@pytest.mark.parametrize(("service", "variable"), MISSPELT)
def test_a_variable_that_nothing_reads_is_caught(compose: Compose, service: str, variable: str) -> None:
    mutated = copy.deepcopy(compose)
    mutated["services"][service]["environment"][variable] = "x"
    assert unknown_variables(mutated) == {service: [variable]}


def test_the_key_store_reads_the_settings_its_docstring_documents() -> None:
    read = {name for name in key_store_reads() if name.startswith("TANDEM_KEY")}
    assert read and read == documented_key_store_names()


# -- ports ----------------------------------------------------------------------------------


def container_ports(service: Mapping[str, Any]) -> set[int]:
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def healthcheck_ports(service: Mapping[str, Any]) -> set[int]:
    test = (service.get("healthcheck") or {}).get("test") or []
    text = test if isinstance(test, str) else " ".join(test)
    return {int(port) for port in re.findall(r"https?://[^/:'\"\s]+:(\d+)", text)}


def port_problems(compose: Compose, key: str) -> list[str]:
    service = compose["services"][key]
    name = platform_services(compose)[key]
    cls = settings_class(name)
    env = resolved_env(service)
    port_variable = setting_alias(cls, "port")
    default = cls.model_fields["port"].default
    listens = int(env.get(port_variable, default))
    problems = []
    if container_ports(service) != {listens}:
        problems.append(f"{key} listens on {listens} ({port_variable}) but publishes {container_ports(service)}")
    if healthcheck_ports(service) != {listens}:
        problems.append(f"{key} listens on {listens} but its healthcheck asks {healthcheck_ports(service)}")
    if listens != default:
        problems.append(f"{key} listens on {listens}, the code's default is {default}")
    host = env.get(setting_alias(cls, "host"), cls.model_fields["host"].default)
    if host not in ("0.0.0.0", "::"):
        problems.append(f"{key} listens on {host}: its published port cannot reach it")
    return problems


@pytest.mark.parametrize("service", ["enrolment", "matching", "sessions"])
def test_a_service_listens_on_the_port_it_publishes_and_its_healthcheck_asks(compose: Compose, service: str) -> None:
    assert port_problems(compose, service) == []


@pytest.mark.parametrize("service", ["enrolment", "matching", "sessions"])
def test_a_service_port_is_the_one_the_code_and_the_readme_give(service: str) -> None:
    cls = settings_class(service)
    (spec,) = [spec for spec in SERVICES if spec.name == service]
    assert spec.port_variable == setting_alias(cls, "port")
    assert spec.default_port == cls.model_fields["port"].default
    heading = re.search(rf"^## {service.capitalize()} API \(port (\d+)\)", README.read_text(), re.MULTILINE)
    assert heading and int(heading.group(1)) == spec.default_port


PORT_MISTAKES = [
    pytest.param(lambda s: s.update(ports=["127.0.0.1:8001:8000"]), id="published-container-port"),
    pytest.param(lambda s: s["environment"].update(ENROLMENT_PORT="8011"), id="port-setting"),
    pytest.param(lambda s: s["healthcheck"].update(test=["CMD", "curl", "-f", "http://127.0.0.1:8002/healthz"]), id="healthcheck-url"),
    pytest.param(lambda s: s["environment"].pop("ENROLMENT_HOST"), id="loopback-only-host"),
]


@pytest.mark.parametrize("mistake", PORT_MISTAKES)
def test_a_port_that_disagrees_is_caught(compose: Compose, mistake: Any) -> None:
    mutated = copy.deepcopy(compose)
    mistake(mutated["services"]["enrolment"])
    assert port_problems(mutated, "enrolment")


# -- topics ---------------------------------------------------------------------------------


def topics_created(compose: Compose) -> dict[str, Any]:
    """What `tandem topics` does with the job's environment: the create call it makes."""
    job = compose["services"][topics_job(compose)]
    calls: list[dict[str, Any]] = []

    def ensure_topics(bootstrap: str, topics: Any, partitions: int = 3, replication_factor: int = 1, **_: Any) -> None:
        calls.append({"bootstrap": bootstrap, "topics": sorted(topics), "partitions": partitions, "replication": replication_factor})

    with pytest.MonkeyPatch.context() as patch:
        for name, value in resolved_env(job).items():
            patch.setenv(name, value)
        patch.setattr(infra.cli, "wait_until_ready", lambda *args, **kwargs: None)
        patch.setattr(infra.cli, "ensure_topics", ensure_topics)
        assert infra.cli.main(job["command"][1:]) == 0
    (call,) = calls
    return call


def topic_problems(compose: Compose) -> list[str]:
    created = topics_created(compose)
    problems = []
    for key, name in platform_services(compose).items():
        settings = settings_of(settings_class(name), resolved_env(compose["services"][key]))
        uses = Topics(settings.topic_prefix)
        if sorted(uses.all()) != created["topics"]:
            problems.append(f"{key} uses {uses.all()}, the topics job creates {created['topics']}")
        if settings.topics.of(application_class(name).name) not in created["topics"]:
            problems.append(f"{key} publishes on a topic that is not created")
        if settings.kafka_bootstrap_servers != created["bootstrap"]:
            problems.append(f"{key} uses Kafka at {settings.kafka_bootstrap_servers}, the topics job {created['bootstrap']}")
    return problems


def test_the_topics_job_creates_the_contract_topics_the_services_use(compose: Compose) -> None:
    created = topics_created(compose)
    job_settings = settings_of(ServiceSettings, resolved_env(compose["services"][topics_job(compose)]))
    assert created["topics"] == sorted(Topics(job_settings.topic_prefix).all())
    assert topic_problems(compose) == []


def test_the_topics_are_created_on_the_kafka_broker_with_a_replication_it_can_hold(compose: Compose) -> None:
    created = topics_created(compose)
    kafka_key = by_image(compose, "apache/kafka")
    kafka_env = resolved_env(compose["services"][kafka_key])
    advertised = re.findall(r"://([^,]+)", kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    assert created["bootstrap"] in advertised and created["bootstrap"].startswith(f"{kafka_key}:")
    brokers = [s for s in compose["services"].values() if "broker" in str(raw_env(s).get("KAFKA_PROCESS_ROLES", ""))]
    assert created["partitions"] >= 1
    assert 1 <= created["replication"] <= len(brokers)


def test_a_topic_prefix_that_differs_between_the_job_and_a_service_is_caught(compose: Compose) -> None:
    mutated = copy.deepcopy(compose)
    mutated["services"]["matching"]["environment"]["TANDEM_TOPIC_PREFIX"] = "other"
    assert topic_problems(mutated)


# -- databases ------------------------------------------------------------------------------


def databases(compose: Compose) -> set[str]:
    """The databases PostgreSQL has: init.sql's and the postgres image's POSTGRES_DB."""
    created = {name.lower() for name in re.findall(r'CREATE\s+DATABASE\s+"?(\w+)"?', INIT_SQL.read_text(), re.IGNORECASE)}
    env = resolved_env(compose["services"][by_image(compose, "postgres")])
    return created | {env.get("POSTGRES_DB") or env["POSTGRES_USER"]}


def key_store_of(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Where a service's key store is, as `key_store_from` picks it (nothing is opened)."""
    chosen: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(personal_data, "PostgresKeyStore", lambda *args, **kwargs: chosen.update(kind="postgres", args=args, **kwargs))
        patch.setattr(personal_data, "SQLiteKeyStore", lambda *args, **kwargs: chosen.update(kind="sqlite", args=args, **kwargs))
        personal_data.key_store_from(Environment(name, dict(env)))
    return chosen


def database_problems(compose: Compose) -> list[str]:
    postgres_key = by_image(compose, "postgres")
    postgres = compose["services"][postgres_key]
    postgres_raw, postgres_env = raw_env(postgres), resolved_env(postgres)
    existing = databases(compose)
    problems = []
    event_stores: dict[str, str] = {}
    key_stores: set[tuple[Any, ...]] = set()
    for key, name in platform_services(compose).items():
        service = compose["services"][key]
        app = application_class(name).name
        env = Environment(app, resolved_env(service))  # with or without the application's prefix
        raw = Environment(app, raw_env(service))
        if env.get(PostgresFactory.PERSISTENCE_MODULE) != "eventsourcing.postgres":
            problems.append(f"{key} does not keep its events in PostgreSQL")
        dbname = env.get(PostgresFactory.POSTGRES_DBNAME) or ""
        if dbname not in existing:
            problems.append(f"{key}'s event store database {dbname!r} is not created")
        event_stores[key] = dbname
        if env.get(PostgresFactory.POSTGRES_HOST) != postgres_key:
            problems.append(f"{key} looks for PostgreSQL at {env.get(PostgresFactory.POSTGRES_HOST)}")
        if env.get(PostgresFactory.POSTGRES_USER) != postgres_env.get("POSTGRES_USER"):
            problems.append(f"{key} logs in as another user than the postgres service creates")
        if raw.get(PostgresFactory.POSTGRES_PASSWORD) != postgres_raw.get("POSTGRES_PASSWORD"):
            problems.append(f"{key}'s password is not the postgres service's")
        if "depends_on" not in service or postgres_key not in service["depends_on"]:
            problems.append(f"{key} does not wait for PostgreSQL")
        store = key_store_of(app, env)
        if store.get("kind") != "postgres":
            problems.append(f"{key}'s key store is {store.get('kind') or 'in memory'}, not shared")
            continue
        host, port, keys_dbname, user, _password, schema = store["args"]
        if keys_dbname not in existing:
            problems.append(f"{key}'s key store database {keys_dbname!r} is not created")
        key_stores.add((host, str(port), keys_dbname, user, schema))
    if len(set(event_stores.values())) != len(event_stores):
        problems.append(f"services share an event store database: {event_stores}")
    if len(key_stores) != 1:
        problems.append(f"the services do not share one key store: {sorted(key_stores, key=str)}")
    return problems


def test_each_service_has_a_database_of_its_own_and_they_share_one_key_store(compose: Compose) -> None:
    assert database_problems(compose) == []


def test_init_sql_is_run_by_the_postgres_service_on_a_new_volume(compose: Compose) -> None:
    volumes = compose["services"][by_image(compose, "postgres")]["volumes"]
    assert any(str(v).startswith("./infra/postgres/init.sql:/docker-entrypoint-initdb.d/") for v in volumes)


DATABASE_MISTAKES = [
    pytest.param("enrolment", "POSTGRES_DBNAME", "tandem_enrolments", id="event-store-not-created"),
    pytest.param("matching", "POSTGRES_DBNAME", "tandem_enrolment", id="event-store-shared"),
    pytest.param("sessions", "TANDEM_KEYS_POSTGRES_DBNAME", "tandem_sessions", id="key-store-not-shared"),
    pytest.param("sessions", "TANDEM_KEYS_POSTGRES_DBNAME", "keys", id="key-store-not-created"),
    pytest.param("matching", "TANDEM_KEY_STORE", "memory", id="key-store-in-memory"),
    pytest.param("enrolment", "POSTGRES_USER", "postgres", id="another-user"),
]


@pytest.mark.parametrize(("service", "variable", "value"), DATABASE_MISTAKES)
def test_a_database_that_is_missing_or_shared_is_caught(compose: Compose, service: str, variable: str, value: str) -> None:
    mutated = copy.deepcopy(compose)
    mutated["services"][service]["environment"][variable] = value
    assert database_problems(mutated)


# -- images, restarts, healthchecks, volumes --------------------------------------------------


def image_problems(compose: Compose) -> list[str]:
    problems = []
    for key, service in compose["services"].items():
        image = service.get("image")
        if image is None:
            if "build" not in service:
                problems.append(f"{key} has neither an image nor a build")
            continue
        tag = image_tag(image)
        if "@sha256:" not in image and (tag is None or not re.match(r"\d+(\.\d+)+", tag)):
            problems.append(f"{key}'s image {image} is not pinned to a version")
    return problems


def test_images_are_pinned_to_a_version(compose: Compose) -> None:
    assert image_problems(compose) == []


@pytest.mark.parametrize("image", ["apache/kafka:latest", "apache/kafka", "apache/kafka:3"])
def test_an_unpinned_image_is_caught(compose: Compose, image: str) -> None:
    mutated = copy.deepcopy(compose)
    mutated["services"][by_image(compose, "apache/kafka")]["image"] = image
    assert image_problems(mutated)


def test_compose_runs_the_kafka_release_the_suite_runs_in_ci(compose: Compose) -> None:
    from infra.apache_kafka import KAFKA_VERSION

    image = compose["services"][by_image(compose, "apache/kafka")]["image"]
    pom = (ROOT / "infra" / "apache-kafka" / "pom.xml").read_text()
    assert image == f"apache/kafka:{KAFKA_VERSION}"
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in pom


def test_kafka_is_the_official_image_in_kraft_mode_and_postgres_the_official_one(compose: Compose) -> None:
    kafka = resolved_env(compose["services"][by_image(compose, "apache/kafka")])
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert not any("ZOOKEEPER" in name for name in kafka)
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the topics job creates them
    assert by_image(compose, "postgres")


def test_tandem_containers_are_built_from_the_one_dockerfile(compose: Compose) -> None:
    built = [key for key, service in compose["services"].items() if "build" in service]
    assert sorted(built) == sorted([*tandem_containers(compose), topics_job(compose)])
    builds = {repr(compose["services"][key]["build"]) for key in built}
    assert builds == {repr(".")} or builds == {repr({"context": "."})}


def dockerfile_instructions() -> Iterator[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, argument = line.partition(" ")
            yield instruction.upper(), argument.strip()


def test_the_dockerfile_starts_from_a_pinned_slim_python_and_runs_as_a_non_root_user() -> None:
    instructions = list(dockerfile_instructions())
    bases = [argument.split()[0] for instruction, argument in instructions if instruction == "FROM"]
    assert bases
    for base in bases:
        assert image_repository(base) == "python"
        assert re.match(r"\d+\.\d+\.\d+-slim", image_tag(base) or ""), f"{base} is not a pinned slim Python"
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    users = [argument for instruction, argument in instructions[last_from:] if instruction == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), "the image runs as root"


@pytest.mark.parametrize("variable", ["TANDEM_SECRET", "TANDEM_AUDIT_SIGNING_KEY"])
def test_the_services_share_one_token_secret_and_one_signing_key(compose: Compose, variable: str) -> None:
    """Either the secret (the token secret, the audit checkpoints' signing key) is given, the
    same, to every service, or it is generated once into TANDEM_HOME, which must then be one
    named volume they all mount."""
    home = {argument.split("=", 1)[1] for instruction, argument in dockerfile_instructions()
            if instruction == "ENV" and argument.startswith("TANDEM_HOME=")}
    named = set(compose.get("volumes") or {})
    for key in platform_services(compose):
        service = compose["services"][key]
        secret = raw_env(service).get(variable)
        if secret and not re.fullmatch(r"\$\{" + variable + r":?-\}", str(secret)):
            assert re.fullmatch(r"\$\{" + variable + r":?\?[^}]*\}", str(secret)), f"{key}: {variable} is written in the file"
            continue
        home_dir = raw_env(service).get("TANDEM_HOME") or next(iter(home), None)
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in service.get("volumes") or [] if ":" in str(v)}
        assert home_dir in mounts and mounts[home_dir] in named, f"{key}'s TANDEM_HOME is not on a named volume"
    secrets = {repr(raw_env(compose["services"][key]).get(variable)) for key in platform_services(compose)}
    homes = {repr([v for v in compose["services"][key].get("volumes") or []]) for key in platform_services(compose)}
    assert len(secrets) == 1 and len(homes) == 1


def wrapping_key_problems(compose: Compose) -> list[str]:
    """Every service has the same wrapping key for the key store: given from outside the file
    (TANDEM_KEYS_WRAPPING_KEY=${...}), or one file on a named volume they all mount, apart from
    TANDEM_HOME and the databases (so that a backup of those does not carry it)."""
    problems, found = [], set()
    home = next(argument.split("=", 1)[1] for instruction, argument in dockerfile_instructions()
                if instruction == "ENV" and argument.startswith("TANDEM_HOME="))
    for key in platform_services(compose):
        service = compose["services"][key]
        raw = raw_env(service)
        value = raw.get("TANDEM_KEYS_WRAPPING_KEY")
        if value and not str(value).startswith("${"):
            problems.append(f"{key}: TANDEM_KEYS_WRAPPING_KEY is written in the file")
        file = resolved_env(service).get("TANDEM_KEYS_WRAPPING_KEY_FILE") or f"{raw.get('TANDEM_HOME') or home}/keys-wrapping-key"
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in service.get("volumes") or [] if ":" in str(v)}
        volume = mounts.get(str(Path(file).parent))
        if volume not in set(compose.get("volumes") or {}):
            problems.append(f"{key}: the wrapping key file {file} is not on a named volume")
        elif volume == mounts.get(raw.get("TANDEM_HOME") or home):
            problems.append(f"{key}: the wrapping key file {file} is in TANDEM_HOME's volume, with what it protects")
        found.add((file, volume, str(value)))
    if len(found) != 1:
        problems.append(f"the services do not share one wrapping key: {sorted(found, key=str)}")
    return problems


def test_the_services_share_one_wrapping_key_kept_apart_from_the_stores(compose: Compose) -> None:
    assert wrapping_key_problems(compose) == []
    mutated = copy.deepcopy(compose)
    mutated["services"]["sessions"]["environment"]["TANDEM_KEYS_WRAPPING_KEY_FILE"] = "/var/lib/tandem/wrapping-key"
    assert wrapping_key_problems(mutated)
    mutated = copy.deepcopy(compose)
    mutated["services"]["matching"]["environment"]["TANDEM_KEYS_WRAPPING_KEY"] = "c2VjcmV0"
    assert wrapping_key_problems(mutated)


def test_long_running_containers_restart_and_have_a_healthcheck(compose: Compose) -> None:
    one_shot = topics_job(compose)
    for key, service in compose["services"].items():
        if key == one_shot:
            continue
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), f"{key} is not restarted"
        test = (service.get("healthcheck") or {}).get("test")
        assert test and test != ["NONE"], f"{key} has no healthcheck"


def test_the_services_start_after_the_topics_exist_and_the_database_is_ready(compose: Compose) -> None:
    job = topics_job(compose)
    kafka, postgres = by_image(compose, "apache/kafka"), by_image(compose, "postgres")
    assert compose["services"][job]["depends_on"][kafka]["condition"] == "service_healthy"
    for key in platform_services(compose):
        depends = compose["services"][key]["depends_on"]
        assert depends[job]["condition"] == "service_completed_successfully"
        assert depends[postgres]["condition"] == "service_healthy"


def test_state_is_kept_in_named_volumes(compose: Compose) -> None:
    named = set(compose.get("volumes") or {})
    used = set()
    for key, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                assert source in named, f"{key} mounts {source}, which is not declared"
                used.add(source)
    assert used == named
    kafka = compose["services"][by_image(compose, "apache/kafka")]
    kafka_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in kafka["volumes"]}
    assert kafka_mounts.get(resolved_env(kafka)["KAFKA_LOG_DIRS"]) in named
    postgres = compose["services"][by_image(compose, "postgres")]
    postgres_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in postgres["volumes"]}
    assert postgres_mounts.get("/var/lib/postgresql/data") in named


# -- the console ----------------------------------------------------------------------------


def console_problems(compose: Compose) -> list[str]:
    """What would keep the console from reaching the services, or users from reaching it."""
    key = console_container(compose)
    service = compose["services"][key]
    env = resolved_env(service)
    problems = [f"{key}: {name} is not a console setting" for name in raw_env(service) if name.upper() not in settings_names(ConsoleSettings)]
    settings = settings_of(ConsoleSettings, env)
    for spec in SERVICES:
        (target,) = [k for k, name in platform_services(compose).items() if name == spec.name]
        listens = resolved_env(compose["services"][target]).get(spec.port_variable, str(spec.default_port))
        if settings.service_urls()[spec.name] != f"http://{target}:{listens}":
            problems.append(f"{key}: {url_variable(spec)} is {settings.service_urls()[spec.name]}, {spec.name} listens at http://{target}:{listens}")
        if (service.get("depends_on") or {}).get(target, {}).get("condition") != "service_healthy":
            problems.append(f"{key} starts before {target} is healthy")
    if settings.port != CONSOLE.default_port or settings.host not in ("0.0.0.0", "::"):
        problems.append(f"{key} listens on {settings.host}:{settings.port}")
    if service.get("ports") != [f"127.0.0.1:{CONSOLE.default_port}:{settings.port}"]:
        problems.append(f"{key} publishes {service.get('ports')}")
    if healthcheck_ports(service) != {settings.port}:
        problems.append(f"{key}'s healthcheck asks {healthcheck_ports(service)}")
    if "TANDEM_SECRET" in raw_env(service) or "POSTGRES_PASSWORD" in raw_env(service):
        problems.append(f"{key} is given a secret: it needs none, it acts with its users' tokens")
    if not settings.secure_cookies:
        problems.append(f"{key}'s cookies are not Secure by default: the deployment is meant to be behind HTTPS")
    return problems


def test_the_console_reaches_every_service_by_its_compose_name_and_port(compose: Compose) -> None:
    assert console_problems(compose) == []
    assert ConsoleSettings.model_fields["port"].default == CONSOLE.default_port
    assert setting_alias(ConsoleSettings, "port") == CONSOLE.port_variable


@pytest.mark.parametrize(
    "mistake",
    [
        pytest.param(lambda s: s["environment"].update(MATCHING_URL="http://matching:8003"), id="wrong-port"),
        pytest.param(lambda s: s["environment"].pop("SESSIONS_URL"), id="loopback-default-in-a-container"),
        pytest.param(lambda s: s["environment"].update(CONSOLE_PROT="8000"), id="misspelt-setting"),
        pytest.param(lambda s: s["environment"].update(TANDEM_SECRET="${TANDEM_SECRET:-}"), id="given-a-secret"),
        pytest.param(lambda s: s["depends_on"].pop("enrolment"), id="starts-before-enrolment"),
        pytest.param(lambda s: s.update(ports=["8000:8000"]), id="published-beyond-loopback"),
        pytest.param(lambda s: s["environment"].update(CONSOLE_SECURE_COOKIES="${CONSOLE_SECURE_COOKIES:-false}"), id="insecure-cookies-by-default"),
    ],
)
def test_a_console_that_could_not_reach_a_service_is_caught(compose: Compose, mistake: Any) -> None:
    mutated = copy.deepcopy(compose)
    mistake(mutated["services"][console_container(mutated)])
    assert console_problems(mutated) != []
