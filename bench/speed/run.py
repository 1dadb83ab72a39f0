"""Speed-layer benchmark: stitched-and-written events/s vs a plain consume-only loop, and p99
produce -> profile-visible latency at half the maximum rate vs a bare produce -> consume round trip,
and p99 produce -> segment membership change on the segment-changes topic (issue 17: at most 1 s).

    .venv/bin/python -m bench.speed.run [--customers 1000] [--days 7] [--latency-s 20]

Runs against the local stack in its own keyspace (``ucid_bench_speed``) and fresh topics, on
a stream from ``ucid generate --stream``. Both sides of each ratio run in this process, on the
same topic, the same messages, one after the other. Both throughputs are timed from the first
records received: the plain loop to its last record, the speed layer to its last commit (its
start-up -- Cassandra connection, group join, contract compilation -- is shown apart). Prints a table and one JSON line, and
writes ``bench/speed/results.json`` (``--out``): command line, date, commit, machine, figures,
ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.results import provenance, write_results  # noqa: E402

os.environ["UCID_CASSANDRA_KEYSPACE"] = os.environ.get("UCID_BENCH_KEYSPACE", "ucid_bench_speed")
os.environ["UCID_KAFKA_TOPIC_PREFIX"] = f"ucid-bench-speed.{uuid.uuid4().hex[:6]}."
os.environ.setdefault("UCID_LOG_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[2]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


def generate(folder: Path, customers: int, days: int, seed: int) -> list[bytes]:
    stream = folder / f"stream-{seed}.jsonl"
    subprocess.run([sys.executable, "-m", "ucid.cli", "generate", "-n", str(customers), "-d", str(days), "-s",
                    str(seed), "--out", str(folder / f"land-{seed}"), "--stream", str(stream), "--quiet"],
                   cwd=REPO, check=True)
    return [line for line in stream.read_bytes().splitlines() if line.strip()]


def produce(settings, topic: str, lines: list[bytes], policy, rate: float = 0.0) -> None:
    from kafka import KafkaProducer

    from speed.produce import produce_lines

    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=5)
    produce_lines(producer, topic, lines, policy, rate)
    producer.close()


def produce_timed(settings, topic: str, lines: list[bytes], policy, rate: float, sent_at: dict[str, float]) -> None:
    """:func:`produce` at ``rate``, noting each event's send time (wall clock) by event id."""
    from kafka import KafkaProducer

    from speed.produce import key_of

    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=5)
    started = time.monotonic()
    for n, line in enumerate(lines, 1):
        sent_at[json.loads(line)["event_id"]] = time.time()
        producer.send(topic, key=key_of(line, policy), value=line)
        ahead = started + n / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    producer.flush()
    producer.close()


class ChangeWatch(threading.Thread):
    """Reads the segment-changes topic from its end, noting when each membership change arrives;
    :meth:`latencies`: per change, arrival minus the send time of the earliest-sent event of its
    cause (the poll's events of that customer): the latency the acceptance bounds, pessimistically."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.topic = settings.kafka.topic_prefix + "segment-changes"
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False,
                                      auto_offset_reset="latest", consumer_timeout_ms=200)
        self.consumer.subscribe([self.topic])
        while not self.consumer.assignment():  # joined, and at the end of every partition
            self.consumer.poll(timeout_ms=200)
        self.consumer.seek_to_end()
        self.arrived: list[tuple[float, dict]] = []
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            for msgs in self.consumer.poll(timeout_ms=100).values():
                now = time.time()
                self.arrived += [(now, json.loads(m.value)) for m in msgs]
        self.consumer.close()

    def latencies(self, sent_at: dict[str, float]) -> list[float]:
        out = []
        for at, change in self.arrived:
            sent = [sent_at[e] for e in change.get("cause", {}).get("event_ids", ()) if e in sent_at]
            if sent:
                out.append(max(0.0, at - min(sent)))
        return out


def consume_only(settings, topic: str, expected: int) -> float:
    """events/s of a plain kafka-python loop reading the topic from the start (fresh group)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap_servers,
                             group_id=f"bench-plain-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                             enable_auto_commit=False, max_poll_records=500)
    seen, first = 0, None
    while seen < expected:
        for records in consumer.poll(timeout_ms=200).values():
            first = first or time.monotonic()
            seen += len(records)
    elapsed = time.monotonic() - first
    consumer.close()
    return expected / elapsed


def round_trip_p99(settings, topic: str, lines: list[bytes], policy, rate: float) -> float:
    """p99 of message timestamp -> received by a plain consumer, while producing at ``rate``."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap_servers,
                             group_id=f"bench-rtt-{uuid.uuid4().hex[:6]}", auto_offset_reset="latest",
                             enable_auto_commit=False)
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    latencies: list[float] = []
    sender = threading.Thread(target=produce, args=(settings, topic, lines, policy, rate))
    sender.start()
    while len(latencies) < len(lines):
        for records in consumer.poll(timeout_ms=200).values():
            now = time.time()
            latencies.extend(now - r.timestamp / 1000 for r in records)
    sender.join()
    consumer.close()
    return p99(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--latency-s", type=float, default=20.0, help="seconds of paced traffic per latency run")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "speed" / "results.json",
                        help="results file (default: %(default)s)")
    args = parser.parse_args()
    run = provenance("speed", args)

    from identity.rules import load_policy
    from infra import schema, topics
    from infra.cql import cluster
    from infra.log import configure
    from infra.settings import SpeedSettings, get_settings
    from speed.consumer import SpeedConsumer

    configure("WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    os.environ["UCID_LANDING_DIR"] = str(work / "landing")
    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    cl = cluster(settings.cassandra, request_timeout_s=120)
    session = cl.connect()
    schema.apply(session, settings.cassandra)
    for table in [r.table_name for r in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (settings.cassandra.keyspace,))]:
        if table != "schema_migrations":
            session.execute(f"TRUNCATE {settings.cassandra.keyspace}.{table}", timeout=120)
    cl.shutdown()
    topics.ensure(settings.kafka)
    topic = settings.kafka.topic_prefix + "events"

    lines = generate(work, args.customers, args.days, seed=1)
    size = sum(map(len, lines)) / len(lines)
    print(f"stream: {len(lines):,} events, {size:.0f} bytes on average; topic {topic} (6 partitions)")
    produce(settings, topic, lines, policy)

    plain = consume_only(settings, topic, len(lines))
    print(f"plain kafka-python consume-only: {plain:,.0f} events/s")

    speed_settings = SpeedSettings(group_id=f"bench-speed-{uuid.uuid4().hex[:6]}", progress_s=5)
    run["speed_settings"] = speed_settings.model_dump(mode="json")
    consumer = SpeedConsumer(settings, speed_settings, idle_exit_s=1.5)
    started = time.monotonic()
    stats = consumer.run()
    # timed as the plain loop is: from the first records received to the last commit (joining the
    # group, connecting to Cassandra and compiling the contract come before; shown apart)
    elapsed = stats.last_commit - stats.first_data
    startup = stats.first_data - started
    speed_rate = stats.applied / elapsed
    print(f"ucid speed run (stitch + write, cold caches, all outcomes {stats.outcomes}): {speed_rate:,.0f} events/s "
          f"over {elapsed:.2f} s in {stats.batches} polls, after {startup:.1f} s of start-up")

    # latency at half the maximum rate, on a second stream with new customers
    rate = speed_rate / 2
    count = max(50, int(rate * args.latency_s))
    more = generate(work, args.customers, args.days, seed=2)[:count]
    consumer = SpeedConsumer(settings, speed_settings, idle_exit_s=None)
    watch = ChangeWatch(settings)
    watch.start()
    sent_at: dict[str, float] = {}

    def paced() -> None:  # once the consumer owns its partitions (it rejoins its group)
        while not getattr(consumer, "consumer", None) or not consumer.consumer.assignment():
            time.sleep(0.1)
        time.sleep(1.0)
        produce_timed(settings, topic, more, policy, rate, sent_at)
        time.sleep(2.0)
        consumer.stop()

    runner = threading.Thread(target=paced)
    runner.start()
    lat_stats = consumer.run()
    runner.join()
    time.sleep(1.0)
    watch.stopping = True
    watch.join()
    latencies = list(lat_stats.latencies)
    speed_p99 = p99(latencies)
    segment_latencies = watch.latencies(sent_at)
    segment_p99 = p99(segment_latencies)
    # the reference: a bare produce -> consume round trip of other new events at the same rate
    rtt = round_trip_p99(settings, topic, generate(work, args.customers, args.days, seed=3)[:count], policy, rate)
    figures = {
        "events": len(lines), "message_bytes": round(size), "plain_consume_per_s": round(plain),
        "speed_per_s": round(speed_rate), "speed_seconds": round(elapsed, 2), "speed_startup_s": round(startup, 1),
        "speed_polls": stats.batches,
        "throughput_ratio": round(speed_rate / plain, 4),
        "latency_rate_per_s": round(rate, 1), "latency_events": len(latencies),
        "speed_p99_s": round(speed_p99, 3), "round_trip_p99_s": round(rtt, 3),
        "latency_ratio": round(speed_p99 / rtt, 1) if rtt > 0 else None,
        "segment_changes": len(segment_latencies), "segment_change_p99_s": round(segment_p99, 3),
    }
    print(f"\n| figure | ucid speed | reference | ratio |\n|---|---|---|---|\n"
          f"| events/s ({len(lines):,} events, {size:.0f} B) | {speed_rate:,.0f} | {plain:,.0f} (consume-only) | "
          f"{speed_rate / plain:.3f} |\n"
          f"| p99 produce -> visible at {rate:,.0f}/s | {speed_p99 * 1000:,.0f} ms | {rtt * 1000:,.0f} ms "
          f"(produce -> consume) | {figures['latency_ratio']} |\n"
          f"| p99 produce -> segment change on the topic ({len(segment_latencies):,} changes) | "
          f"{segment_p99 * 1000:,.0f} ms | 1,000 ms (acceptance) | {segment_p99:.2f} |")
    print(json.dumps(figures))
    figures["stitch_outcomes"] = dict(sorted(stats.outcomes.items()))
    write_results(args.out, run, figures,
                  {"throughput": figures["throughput_ratio"], "latency": figures["latency_ratio"]})


if __name__ == "__main__":
    main()
