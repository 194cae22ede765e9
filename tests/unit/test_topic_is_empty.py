"""What the relays and the checkpoint publisher take for a broker that lost their topic: an
empty topic, never one whose partitions are not known (yet), as right after a whole Apache
Kafka cluster restarted (tests/reliability/test_broker_faults.py runs that for real)."""

import pytest
from kafka import TopicPartition

from services.common.kafka import TopicNotKnown, topic_is_empty


class Reader:
    """What the broker would answer a consumer without a group (partitions, end offsets)."""

    def __init__(self, ends: dict[int, int] | None) -> None:
        self.ends = ends

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.ends or ())  # kafka-python answers an empty set for an unknown topic

    def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp.partition] for tp in partitions}


def test_a_topic_with_records_on_one_partition_is_not_empty():
    assert topic_is_empty(Reader({0: 0, 1: 12, 2: 0}), "t.enrolment.events") is False


def test_a_topic_with_no_record_on_any_partition_is_empty():
    assert topic_is_empty(Reader({0: 0, 1: 0, 2: 0}), "t.enrolment.events") is True


def test_a_topic_the_broker_does_not_know_yet_is_unknown_not_empty():
    with pytest.raises(TopicNotKnown, match="t.enrolment.events"):
        topic_is_empty(Reader(None), "t.enrolment.events")
