"""The embedded broker launcher and topic creation, against the real Tansu broker."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from infra.broker import BrokerError, EmbeddedBroker, connect_admin, wait_until_ready
from infra.topics import ensure_topics
from support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A private broker on a fresh port, for tests that start, stop or restart it."""
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    yield broker
    broker.stop()


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = connect_admin(bootstrap)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(topics) if t["error_code"] == 0}
    finally:
        admin.close()


def list_topics(bootstrap: str) -> set[str]:
    admin = connect_admin(bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_broker_starts_on_the_chosen_port_and_answers_kafka_requests(own_broker: EmbeddedBroker) -> None:
    started = time.monotonic()
    assert own_broker.start() is own_broker
    elapsed = time.monotonic() - started

    assert own_broker.is_running()
    assert own_broker.pid is not None and process_exists(own_broker.pid)
    assert own_broker.bootstrap_servers == f"127.0.0.1:{own_broker.port}"
    assert elapsed < 10, f"broker took {elapsed:.1f}s to become ready"
    wait_until_ready(own_broker.bootstrap_servers, timeout=5)
    admin = connect_admin(own_broker.bootstrap_servers)
    try:
        brokers = admin.describe_cluster()["brokers"]
    finally:
        admin.close()
    # The advertised address is the one we chose, so clients reconnect to the right place.
    assert [(b["host"], b["port"]) for b in brokers] == [("127.0.0.1", own_broker.port)]


@pytest.mark.smoke
def test_ensure_topics_creates_topics_with_the_asked_partitions(kafka_bootstrap: str, topic_prefix: str) -> None:
    names = [f"{topic_prefix}.orders", f"{topic_prefix}.people"]

    ensure_topics(kafka_bootstrap, names, partitions=4)

    assert partition_counts(kafka_bootstrap, names) == {name: 4 for name in names}


def test_ensure_topics_is_idempotent_and_leaves_existing_topics_alone(kafka_bootstrap: str, topic_prefix: str) -> None:
    first, second = f"{topic_prefix}.a", f"{topic_prefix}.b"
    ensure_topics(kafka_bootstrap, [first], partitions=2)

    ensure_topics(kafka_bootstrap, [first], partitions=2)  # nothing to do
    ensure_topics(kafka_bootstrap, [first, second, second], partitions=5)  # one new, one existing

    assert partition_counts(kafka_bootstrap, [first, second]) == {first: 2, second: 5}
    ensure_topics(kafka_bootstrap, [])  # no topics asked: no-op


def test_ensure_topics_tolerates_concurrent_callers(kafka_bootstrap: str, topic_prefix: str) -> None:
    names = [f"{topic_prefix}.race{i}" for i in range(3)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            ensure_topics(kafka_bootstrap, names, partitions=3, timeout=20)
        except BaseException as exc:  # collected and asserted on in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert partition_counts(kafka_bootstrap, names) == {name: 3 for name in names}


def test_ensure_topics_rejects_zero_partitions(kafka_bootstrap: str, topic_prefix: str) -> None:
    with pytest.raises(ValueError, match="partitions"):
        ensure_topics(kafka_bootstrap, [f"{topic_prefix}.bad"], partitions=0)


@pytest.mark.smoke
def test_produce_consume_round_trip_keeps_key_value_and_headers(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.events"
    ensure_topics(kafka_bootstrap, [topic])
    headers = [("event-type", b"MentorAssigned"), ("schema-version", b"1")]

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        sent = producer.send(topic, key=b"programme-42", value=b'{"mentor": "ada"}', headers=headers).get(timeout=10)
    finally:
        producer.close(timeout=5)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}-group",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        received = []
        deadline = time.monotonic() + 20  # the group join alone takes ~session_timeout/2
        while not received and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(records)
    finally:
        consumer.close()

    assert len(received) == 1
    record = received[0]
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert record.key == b"programme-42"
    assert record.value == b'{"mentor": "ada"}'
    assert list(record.headers) == headers


def test_second_broker_on_a_taken_port_fails_with_a_clear_error(own_broker: EmbeddedBroker) -> None:
    own_broker.start()
    intruder = EmbeddedBroker(port=own_broker.port)

    with pytest.raises(RuntimeError, match=rf"127\.0\.0\.1:{own_broker.port} is already in use"):
        intruder.start()

    assert not intruder.is_running() and intruder.pid is None
    assert own_broker.is_running()
    wait_until_ready(own_broker.bootstrap_servers, timeout=5)


def test_start_refuses_a_port_held_by_any_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(BrokerError, match="already in use"):
            EmbeddedBroker(port=port).start()


def test_stop_ends_the_process_and_frees_the_port(own_broker: EmbeddedBroker) -> None:
    own_broker.start()
    pid = own_broker.pid
    assert pid is not None

    own_broker.stop()

    assert not own_broker.is_running() and own_broker.pid is None
    assert not process_exists(pid)
    assert port_is_free(own_broker.port)
    own_broker.stop()  # idempotent


def test_context_manager_starts_and_stops_the_broker(tmp_path: Path) -> None:
    port = free_port()
    with EmbeddedBroker(port=port, log_path=tmp_path / "tansu.log") as broker:
        assert broker.is_running()
        pid = broker.pid
        wait_until_ready(broker.bootstrap_servers, timeout=5)
    assert pid is not None and not process_exists(pid)
    assert port_is_free(port)


def test_restart_loses_all_topics_because_storage_is_memory_only(own_broker: EmbeddedBroker, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.lost"
    own_broker.start()
    ensure_topics(own_broker.bootstrap_servers, [topic], partitions=1)
    assert topic in list_topics(own_broker.bootstrap_servers)

    own_broker.stop()
    own_broker.start()

    assert topic not in list_topics(own_broker.bootstrap_servers)


def test_wait_until_ready_times_out_when_nothing_listens() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no Kafka cluster answered"):
        wait_until_ready(f"127.0.0.1:{free_port()}", timeout=1.0)
    assert time.monotonic() - started < 5
