"""Helpers shared by the tests (import as ``from support import ...``)."""

from __future__ import annotations

import os
import socket
import time

import pytest


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now.

    The kernel picks it; another process could still take it before we use it, which is
    unlikely enough on loopback for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are chosen (one after
    the other, the kernel may hand the same port out twice)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def require_apache_kafka() -> None:
    """Skip where Java or the jars are missing (fetch them: infra/apache-kafka/fetch.sh);
    under CI that is a failure: .ci/run fetches them."""
    from infra.apache_kafka import missing

    problem = missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run Apache Kafka, but {problem}")
        pytest.skip(f"Apache Kafka cannot run here: {problem}")


class TopicReader:
    """Reads a topic from the beginning, on every partition, without a consumer group
    (a group join costs seconds; tests only need to see what is on the topic). `configs` go to
    kafka-python as they are: a secured cluster's credentials, say."""

    def __init__(self, bootstrap_servers: str, topic: str, **configs: object) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.topic = topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False, **configs)
        partitions = None
        deadline = time.monotonic() + 10
        while not partitions and time.monotonic() < deadline:
            partitions = self.consumer.partitions_for_topic(topic)
            if not partitions:
                time.sleep(0.1)
        assert partitions, f"topic {topic} does not exist"
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.records: list = []

    def read(self, until, timeout: float = 30.0) -> list:
        """Poll until `until(records)` holds (all records read so far); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while not until(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: condition not met in {timeout}s; {len(self.records)} records read")
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)
        return self.records

    def read_count(self, count: int, timeout: float = 30.0) -> list:
        return self.read(lambda records: len(records) >= count, timeout)

    def settle(self, quiet_seconds: float = 1.5) -> list:
        """Everything on the topic once nothing new arrived for `quiet_seconds`."""
        quiet_until = time.monotonic() + quiet_seconds
        while time.monotonic() < quiet_until:
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)
                quiet_until = time.monotonic() + quiet_seconds
        return self.records

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> "TopicReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def events_of(records: list, keys=None) -> list:
    """The integration events carried by Kafka records, decoded with the contracts; personal
    data reads only with the participants' keys (`platform.keys()`), as None without."""
    from contracts import decode

    return [decode(record.value, keys) for record in records]


# --- the platform driven over HTTP, as an admin would ----------------------------------------

HEADER = "role,name,email,birth_year,department,site,languages,themes,manager_email,availability\n"


def people(slug: str, mentors: int, mentees: int) -> str:
    rows = [
        f"mentor,Mentor {i},mentor{i}@{slug}.com,{1996 + i % 6},Digital,Paris,fr;en,networking;online learning,,mon-am;tue-pm"
        for i in range(mentors)
    ] + [
        f"mentee,Mentee {i},mentee{i}@{slug}.com,{1958 + i % 15},Dept {i % 4},{'Paris' if i % 2 else 'Lyon'},fr,online learning;networking,,tue-pm"
        for i in range(mentees)
    ]
    return HEADER + "\n".join(rows) + "\n"


def wait_for(check, timeout: float = 30.0):
    """Poll `check` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def set_up(enrolment, slug: str, mentors: int, mentees: int, *, capacity: int = 2, **programme) -> dict[str, str]:
    """Onboard, configure the programme, enrol by CSV, certify every mentor; returns
    email -> participant id."""
    assert enrolment.post("/subsidiaries", json={"id": slug, "name": slug, "timezone": "Europe/Paris", "locale": "fr-FR"}).status_code == 201
    assert enrolment.put(f"/subsidiaries/{slug}/programme", json={"mentor_capacity": capacity, **programme}).status_code == 200
    imported = enrolment.post(f"/subsidiaries/{slug}/participants/import", content=people(slug, mentors, mentees), headers={"Content-Type": "text/csv"})
    assert imported.json() == {"imported": mentors + mentees}
    listed = enrolment.get(f"/subsidiaries/{slug}/participants", params={"limit": 10000}).json()
    for p in listed:
        if p["role"] == "mentor":
            assert enrolment.post(f"/subsidiaries/{slug}/participants/{p['id']}/certify").status_code == 200
    return {p["email"]: p["id"] for p in listed}


def pool_of(matching, slug: str) -> dict | None:
    response = matching.get(f"/subsidiaries/{slug}/pool")
    return response.json() if response.status_code == 200 else None


def seal_v1(keys, subject: str, value) -> str:
    """A value sealed as the code before `sealed:2:` did (eventsourcing's AESCipher under the
    participant's key, no associated data): what stores and topics written then hold."""
    import base64
    import json

    from eventsourcing.cryptography import AESCipher
    from eventsourcing.utils import Environment

    keys.provide([subject])
    cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: keys.store.fetch(subject)[1]}))
    sealed = cipher.encrypt(json.dumps(value, ensure_ascii=False).encode())
    return f"sealed:1:{subject}:" + base64.urlsafe_b64encode(sealed).decode()
