"""The container path: where a Docker engine answers, the session's broker is a container of
the local broker image (or TANDEM_TEST_KAFKA_IMAGE) on the host network, and it works."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from broker_container import SESSION_CONTAINER, container_required, session_plan
from infra.broker import broker_binary
from infra.broker_image import DIGEST_LABEL, default_tag, file_digest
from infra.topics import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.tansu, pytest.mark.timeout(120)]


@pytest.fixture
def session_container(kafka_bootstrap: str) -> dict[str, str]:
    plan = session_plan()
    if plan.kind != "container":
        if plan.kind == "process" and container_required(os.environ):
            pytest.fail(f"CI must run the broker in a container, but: {plan.target}")
        pytest.skip(f"the session's broker is not a container: {plan.describe()}")
    assert SESSION_CONTAINER["bootstrap"] == kafka_bootstrap
    return SESSION_CONTAINER


def test_the_session_broker_is_a_running_container_on_the_host_network(session_container: dict[str, str]) -> None:
    import docker

    client = docker.from_env()
    try:
        running = client.containers.list(filters={"id": session_container["id"]})  # docker ps
        assert len(running) == 1, f"container {session_container['id'][:12]} is not running"
        container = running[0]
        assert container.attrs["HostConfig"]["NetworkMode"] == "host"
        assert container.attrs["Config"]["Image"] == session_container["image"]
        if session_container["image"] == default_tag():
            # The local image holds the very binary the process path runs.
            image = client.images.get(default_tag())
            assert image.labels[DIGEST_LABEL] == file_digest(Path(broker_binary()))
            assert f"tcp://{session_container['bootstrap']}" in container.attrs["Args"]
    finally:
        client.close()


def test_a_message_goes_through_the_container(session_container: dict[str, str], topic_prefix: str) -> None:
    bootstrap = session_container["bootstrap"]
    topic = f"{topic_prefix}.container"
    ensure_topics(bootstrap, [topic], partitions=1)
    value = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topic, key=b"k", value=value).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        records = []
        for _ in range(100):
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            if records:
                break
    finally:
        consumer.close()
    assert [(r.key, r.value) for r in records] == [(b"k", value)]
