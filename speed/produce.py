"""Publishing events to Kafka (``ucid produce``): JSON lines in, one message per line out.

Each line is sent as is (its bytes are the message value, so a malformed line reaches the
consumer and its dead-letter topic like any bad input), keyed by :func:`~speed.contract.event_key`
when the line is an object with identifiers; unkeyed otherwise (round-robin partition).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from identity.rules import Policy
from speed.contract import event_key


@dataclass(slots=True)
class ProduceStats:
    sent: int = 0
    unkeyed: int = 0
    seconds: float = 0.0


def key_of(line: bytes, policy: Policy) -> bytes | None:
    """The Kafka key of one JSON line, or None if it is not an object with identifiers."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    ids = doc.get("identifiers") if isinstance(doc, dict) else None
    if not isinstance(ids, dict):
        return None
    return event_key({k: v for k, v in ids.items() if isinstance(v, str)}, policy)


def produce_lines(
    producer,
    topic: str,
    lines: Iterable[bytes],
    policy: Policy,
    rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> ProduceStats:
    """Send every non-blank line; ``rate`` > 0 paces to that many messages per second. Waits for
    every acknowledgement (raises on the first failed send)."""
    stats = ProduceStats()
    started = time.monotonic()
    futures = []
    for line in lines:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        key = key_of(line, policy)
        stats.unkeyed += key is None
        futures.append(producer.send(topic, key=key, value=line))
        stats.sent += 1
        if rate > 0:
            ahead = started + stats.sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        if len(futures) >= 5000:
            for f in futures:
                f.get(timeout=60)
            futures.clear()
        if progress and stats.sent % 500 == 0:
            progress(500)
    producer.flush()
    for f in futures:
        f.get(timeout=60)
    if progress:
        progress(stats.sent % 500)
    stats.seconds = time.monotonic() - started
    return stats
