"""The broker image's pure parts and how the session chooses its broker, without Docker."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from broker_container import (
    apache_kafka_environment,
    container_required,
    is_apache_kafka,
    plan_broker,
    tansu_command,
)
from infra.broker_image import DIGEST_LABEL, default_tag, file_digest, import_changes, write_image_tar


def test_the_tag_is_the_wheels_tansu_version() -> None:
    assert default_tag("v0.6.0-510f3e2") == "tandem/tansu:0.6.0-510f3e2"
    assert default_tag().startswith("tandem/tansu:")


def test_the_image_is_the_binary_as_an_executable_slash_tansu(tmp_path: Path) -> None:
    binary = tmp_path / "tansu-v0"
    binary.write_bytes(b"\x7fELF not really")
    binary.chmod(0o600)
    write_image_tar(binary, tmp_path / "image.tar")
    with tarfile.open(tmp_path / "image.tar") as tar:
        [member] = tar.getmembers()
        assert (member.name, member.mode, member.uid, member.isfile()) == ("tansu", 0o755, 0, True)
        assert tar.extractfile(member).read() == binary.read_bytes()


def test_the_image_runs_tansu_and_carries_the_binarys_digest(tmp_path: Path) -> None:
    binary = tmp_path / "tansu"
    binary.write_bytes(b"abc")
    digest = file_digest(binary)
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert import_changes(digest) == ['ENTRYPOINT ["/tansu"]', f"LABEL {DIGEST_LABEL}={digest}"]


def test_the_container_runs_the_broker_as_embeddedbroker_does() -> None:
    assert tansu_command(19092) == [
        "broker",
        "--listener-url", "tcp://127.0.0.1:19092",
        "--advertised-listener-url", "tcp://127.0.0.1:19092",
        "--storage-engine", "memory://tansu/",
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("apache/kafka:3.9.1", True),
        ("docker.io/apache/kafka-native:3.9.1", True),
        ("localhost:5000/apache/kafka", True),
        ("apache/kafka@sha256:0123", True),
        ("tandem/tansu:0.6.0-510f3e2", False),
        ("bitnami/kafka:3.9", False),
        ("apache/kafkaesque:1", False),
    ],
)
def test_apache_kafka_images_are_recognised(image: str, expected: bool) -> None:
    assert is_apache_kafka(image) is expected


def test_apache_kafka_is_one_kraft_node_on_loopback() -> None:
    env = apache_kafka_environment(19092, 19093)
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://127.0.0.1:19092"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@127.0.0.1:19093"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"


def no_engine() -> str:
    return "connection refused"


def engine() -> None:
    return None


def refuse() -> str:
    raise AssertionError("Docker must not be asked")


@pytest.mark.parametrize(
    ("environ", "docker", "expected"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"}, refuse, ("external", "k:9092")),
        ({}, engine, ("container", "tandem/tansu:local")),
        ({"TANDEM_TEST_KAFKA_IMAGE": "apache/kafka:3.9.1"}, engine, ("container", "apache/kafka:3.9.1")),
        ({}, no_engine, ("process", "(no Docker engine: connection refused)")),
        ({"TANDEM_TEST_DOCKER": "false"}, refuse, ("process", "(TANDEM_TEST_DOCKER=false)")),
        ({"TANDEM_TEST_BROKER": "apache"}, refuse, ("apache", "Apache Kafka 4.3.2, one KRaft node")),
        ({"TANDEM_TEST_BROKER": "apache", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}, refuse, ("external", "k:9092")),
    ],
)
def test_the_session_broker_is_external_then_a_container_then_a_process(environ, docker, expected) -> None:
    plan = plan_broker(environ, docker, lambda: "tandem/tansu:local")
    assert (plan.kind, plan.target) == expected


def test_ci_requires_the_container_unless_told_otherwise() -> None:
    assert container_required({"CI": "true"})
    assert not container_required({"CI": "true", "TANDEM_TEST_DOCKER": "false"})
    assert not container_required({})
    assert not container_required({"CI": "true", "TANDEM_TEST_BROKER": "apache"})


def test_an_unknown_test_broker_is_refused() -> None:
    with pytest.raises(ValueError, match="apache or tansu"):
        plan_broker({"TANDEM_TEST_BROKER": "kafka"}, refuse, lambda: "tandem/tansu:local")
