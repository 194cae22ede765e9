"""Which Kafka broker the test session uses, and the container path (testcontainers).

In order: ``KAFKA_BOOTSTRAP_SERVERS`` names an external cluster; ``TANDEM_TEST_BROKER=apache``
runs Apache Kafka itself, one KRaft node as a JVM process (infra/apache_kafka.py; what
``make test`` does for the integration, end-to-end and reliability suites); else (Tansu, the
default, ``TANDEM_TEST_BROKER=tansu``), when a Docker engine
answers (and ``TANDEM_TEST_DOCKER`` is not ``false``), a container on the host network:
``TANDEM_TEST_KAFKA_IMAGE``, or the local image of the embedded broker (``tandem
broker-image``, built on first use); else the embedded broker as a process. Under CI the
container path is required (``.ci/run`` starts a Docker engine), unless
``TANDEM_TEST_DOCKER=false``.

The machines have no bridge network and every server binds 127.0.0.1, so the container
shares the host's network and listens on a free loopback port: the services, run as host
processes, reach it at 127.0.0.1 like the process broker.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from infra.broker import wait_until_ready
from support import free_port

# Filled in by the session's container, for the tests that check it is one.
SESSION_CONTAINER: dict[str, str] = {}


@dataclass(frozen=True)
class BrokerPlan:
    kind: str  # "external", "apache", "container" or "process"
    target: str  # the bootstrap servers, the image, or why there is no container

    def describe(self) -> str:
        return f"{self.kind} {self.target}"


def docker_problem() -> str | None:
    """None when a Docker engine answers (as testcontainers will find it), else why not."""
    try:
        from testcontainers.core.docker_client import DockerClient
    except ImportError as exc:
        return f"testcontainers is not installed ({exc})"
    try:
        client = DockerClient(timeout=5).client  # short: a remote DOCKER_HOST may not answer at all
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # docker raises DockerException, requests errors, OSError...
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


def plan_broker(environ: Mapping[str, str], docker_problem: Callable[[], str | None], local_image: Callable[[], str]) -> BrokerPlan:
    external = environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        return BrokerPlan("external", external)
    broker = environ.get("TANDEM_TEST_BROKER", "tansu").lower()
    if broker == "apache":
        from infra.apache_kafka import KAFKA_VERSION

        return BrokerPlan("apache", f"Apache Kafka {KAFKA_VERSION}, one KRaft node")
    if broker != "tansu":
        raise ValueError(f"TANDEM_TEST_BROKER is apache or tansu, not {broker!r}")
    if environ.get("TANDEM_TEST_DOCKER", "").lower() == "false":
        return BrokerPlan("process", "(TANDEM_TEST_DOCKER=false)")
    problem = docker_problem()
    if problem:
        return BrokerPlan("process", f"(no Docker engine: {problem})")
    return BrokerPlan("container", environ.get("TANDEM_TEST_KAFKA_IMAGE") or local_image())


def container_required(environ: Mapping[str, str]) -> bool:
    """CI must run Tansu's container path; elsewhere the process is a quiet fallback."""
    return (
        bool(environ.get("CI"))
        and environ.get("TANDEM_TEST_DOCKER", "").lower() != "false"
        and environ.get("TANDEM_TEST_BROKER", "tansu").lower() == "tansu"
    )


@functools.cache
def session_plan() -> BrokerPlan:
    """The plan for this session, decided once (the report header and the fixture agree)."""
    from infra.broker_image import default_tag

    return plan_broker(os.environ, docker_problem, default_tag)


def is_apache_kafka(image: str) -> bool:
    """``apache/kafka`` or ``apache/kafka-native``, any tag, digest or registry."""
    name = image.split("@")[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.endswith(("apache/kafka", "apache/kafka-native"))


def tansu_command(port: int) -> list[str]:
    """The arguments after the image's ``/tansu`` entrypoint, as EmbeddedBroker runs it."""
    url = f"tcp://127.0.0.1:{port}"
    return ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]


def apache_kafka_environment(port: int, controller_port: int) -> dict[str, str]:
    """A single KRaft node (broker and controller) of the ``apache/kafka`` image on loopback.

    Same settings as docker-compose.yml's ``kafka`` service, on free host ports; the image's
    default cluster id and its default (automatic) topic creation are kept.
    """
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@127.0.0.1:{controller_port}",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }


@contextmanager
def broker_container(image: str) -> Iterator[str]:
    """Start ``image`` as the session's broker on the host network; yield its bootstrap servers."""
    # Ryuk, testcontainers' reaper, is an image to pull: impossible here. The container is
    # removed when the session ends instead (a killed session can leave it behind).
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer

    from infra.broker_image import build_image, default_tag

    if image == default_tag():
        build_image(image)  # a no-op when it holds the current binary already
    port = free_port()
    container = DockerContainer(image).with_kwargs(network_mode="host")
    if is_apache_kafka(image):
        container.with_envs(**apache_kafka_environment(port, free_port()))
        timeout = 120.0  # a JVM, and a first pull where pulling works
    else:
        container.with_command(tansu_command(port)).with_env("NO_COLOR", "1")
        timeout = 30.0
    bootstrap = f"127.0.0.1:{port}"
    with container:
        try:
            wait_until_ready(bootstrap, timeout=timeout)
        except TimeoutError as exc:
            stdout, stderr = container.get_logs()
            logs = (stdout + stderr).decode(errors="replace")[-2000:]
            raise TimeoutError(f"{exc}\n--- container {image} logs ---\n{logs}") from exc
        SESSION_CONTAINER.update(id=container.get_container_id(), image=image, bootstrap=bootstrap)
        try:
            yield bootstrap
        finally:
            SESSION_CONTAINER.clear()
