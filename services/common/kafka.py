"""kafka-python clients configured the same way everywhere."""

from kafka import KafkaConsumer, KafkaProducer


def create_producer(bootstrap_servers: str, client_id: str) -> KafkaProducer:
    # kafka-python 3 producers are idempotent with acks=all by default: retries never
    # duplicate or reorder a partition's messages.
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        linger_ms=5,
        batch_size=256 * 1024,  # the relay sends whole batches of the log; fewer, larger requests
        max_block_ms=10_000,  # a missing broker surfaces as an error, not an endless block
    )


def create_consumer(bootstrap_servers: str, group_id: str | None, *topics: str, **overrides: object) -> KafkaConsumer:
    config: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,  # offsets are committed after the effects are stored
        # Group joins take about session_timeout_ms / 2: keep them short.
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)
