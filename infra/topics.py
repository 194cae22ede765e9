"""Creating the platform's Kafka topics, idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError, for_code

from infra.broker import connect_admin

__all__ = ["TOPIC_CONFIGS", "ensure_topics"]

log = logging.getLogger(__name__)

# The topics are the event store's source of truth, so nothing may ever expire.
# Tansu 0.6 accepts this config (it does not validate topic configs at all, and
# DescribeConfigs returns nothing for topics, so it cannot be read back there).
TOPIC_CONFIGS: Mapping[str, str] = {"retention.ms": "-1"}

_POLL_INTERVAL = 0.1


def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int = 3,
    replication_factor: int = 1,
    *,
    timeout: float = 30.0,
) -> None:
    """Make sure every topic exists, then wait until the metadata shows all of them.

    Existing topics are left alone (even with a different partition count). Safe to call
    concurrently from several processes: losing the creation race is not an error.
    Raises TimeoutError if the cluster or the metadata does not answer within ``timeout``.
    """
    names = sorted(set(topics))
    if not names:
        return
    # Checked here because Tansu accepts 0 partitions (and any replication factor).
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    if replication_factor < 1:
        raise ValueError(f"replication_factor must be at least 1, not {replication_factor}")

    deadline = time.monotonic() + timeout
    admin = connect_admin(bootstrap_servers, timeout=timeout, client_id="tandem-topics")
    try:
        existing = set(admin.list_topics())
        missing = [name for name in names if name not in existing]
        created = _create(admin, missing, partitions, replication_factor) if missing else set()
        _wait_for_metadata(admin, names, created, partitions, deadline, timeout)
    finally:
        admin.close()


def _create(admin: KafkaAdminClient, names: list[str], partitions: int, replication_factor: int) -> set[str]:
    """Create the topics; return those this call created (others won a race)."""
    request = {
        name: {
            "num_partitions": partitions,
            "replication_factor": replication_factor,
            "configs": dict(TOPIC_CONFIGS),
        }
        for name in names
    }
    # raise_errors=False: kafka-python would otherwise raise on the first per-topic
    # error, and TopicAlreadyExists (another process was faster) is expected.
    response = admin.create_topics(request, raise_errors=False)
    created: set[str] = set()
    for result in response["topics"]:
        code = result["error_code"]
        if code == 0:
            created.add(result["name"])
            log.info("created topic %s (%d partitions)", result["name"], partitions)
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            raise error(f"cannot create topic {result['name']!r}: {result.get('error_message') or error.__name__}")
    return created


def _wait_for_metadata(
    admin: KafkaAdminClient,
    names: list[str],
    created: set[str],
    partitions: int,
    deadline: float,
    timeout: float,
) -> None:
    """Poll the metadata until every topic is visible with a leader on each partition.

    On Tansu the metadata is immediate; on a real cluster it can lag behind the create.
    """
    while True:
        try:
            pending = _not_ready(admin.describe_topics(names), names, created, partitions)
        except Exception as exc:  # a transient metadata failure: retry until the deadline
            pending = {"*": f"describe_topics failed: {exc}"}
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics not ready after {timeout:.1f}s: {pending}")
        time.sleep(_POLL_INTERVAL)


def _not_ready(
    described: list[dict[str, Any]], names: list[str], created: set[str], partitions: int
) -> dict[str, str]:
    by_name = {topic["name"]: topic for topic in described}
    pending: dict[str, str] = {}
    for name in names:
        topic = by_name.get(name)
        if topic is None:
            pending[name] = "missing from metadata"
            continue
        if topic["error_code"] != 0:
            pending[name] = for_code(topic["error_code"]).__name__
            continue
        found = topic["partitions"]
        if any(p["error_code"] != 0 or p["leader_id"] < 0 for p in found):
            pending[name] = "partition without leader"
        elif name in created and len(found) != partitions:
            pending[name] = f"{len(found)} of {partitions} partitions visible"
        elif not found:
            pending[name] = "no partitions visible"
        elif name not in created and len(found) != partitions:
            log.debug("topic %s already exists with %d partitions (asked for %d); left alone",
                      name, len(found), partitions)
    return pending
