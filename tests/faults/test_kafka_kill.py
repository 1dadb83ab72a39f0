"""SIGKILL the Kafka broker that leads the busiest partition of the events topic mid-stream: the
producer (acks=all, 2 of 3 replicas in sync) and the consumer carry on, every event is applied
exactly once."""

from __future__ import annotations

import signal
import time

from infra import kafka

from .conftest import check_exactly_once, kill, read_events, record, restart, split


def _busiest_leader(settings) -> tuple[int, int, int]:
    """(partition, messages, leader broker index) of the events topic's busiest partition."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    topic = settings.kafka.topic_prefix + settings.speed.topic
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = consumer.end_offsets(tps)
        busiest = max(tps, key=lambda tp: (ends[tp], -tp.partition))
        [described] = admin.describe_topics([topic])
        leader = next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == busiest.partition)
        return busiest.partition, ends[busiest], leader - 1  # node.id is index + 1
    finally:
        consumer.close()
        admin.close()


def test_the_busiest_partitions_leader_killed_mid_stream(faults, stream) -> None:
    settings = faults.settings
    events = read_events(stream)
    first, second = split(stream, len(events) // 2, faults.tmp)
    faults.env["UCID_SPEED_MAX_BATCH"] = "20"  # many commits: the kill lands between two
    faults.ucid("produce", str(first), "--quiet")
    speed = faults.start("speed", "run", name="speed")
    faults.wait_applied(len(events) // 6, "a sixth of the stream")
    partition, messages, broker = _busiest_leader(settings)
    n_second = len(events) - len(events) // 2
    producer = faults.start("produce", str(second), "--rate", f"{n_second / 30:.1f}", "--quiet", name="produce")
    time.sleep(5)
    applied_at_kill = faults.count("applied_events")
    t_kill = time.monotonic()
    kill(kafka.managed(settings, broker))
    assert producer.wait(300) == 0, f"the producer failed with a broker down:\n{faults.log('produce')}"
    took = faults.wait_applied(len(events), "every event with a broker down")
    all_applied_s = time.monotonic() - t_kill
    back_s = restart(settings, kafka, broker)
    speed.send_signal(signal.SIGTERM)
    assert speed.wait(60) == 0, faults.log("speed")
    counts = check_exactly_once(faults, events)
    record("kafka_kill", settings, {
        "killed": kafka.name(broker), "busiest_partition": partition, "its_messages": messages,
        "applied_at_kill": applied_at_kill, "all_applied_s_after_kill": round(all_applied_s, 1),
        "waited_s": round(took, 1), "broker_back_s": round(back_s, 1), "events": counts,
    })
