"""The Apache Kafka cluster the reliability tests start: what it writes before any JVM runs."""

from __future__ import annotations

import base64

from infra.apache_kafka import _cluster_id


def test_a_cluster_id_never_reads_as_an_option_to_the_storage_tool() -> None:
    # One id in 64 drawn plainly starts with "-", which kafka-storage takes for a flag
    # ("argument --cluster-id/-t: expected one argument"); 2,000 draws would meet one.
    ids = [_cluster_id() for _ in range(2_000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
