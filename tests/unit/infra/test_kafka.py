"""The local broker's helpers: a new KRaft cluster id (16 bytes in url-safe base64, never starting
with "-"), the readiness probe."""

from __future__ import annotations

import base64

from infra.kafka import new_cluster_id


def test_new_cluster_ids_are_16_bytes_and_never_start_with_a_dash():
    ids = [new_cluster_id() for _ in range(5000)]  # about 78 of 5,000 raw ids would start with "-"
    assert len(set(ids)) == len(ids)
    for cluster_id in ids:
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_the_readiness_probe_answers_at_once_when_nothing_listens() -> None:
    """``stack up`` and ``ucid demo`` ask before starting the broker: with no listener the probe
    says no at once, instead of kafka-python retrying its bootstrap for about 30 s."""
    import socket
    import time

    from infra import kafka
    from infra.settings import KafkaSettings, Settings

    with socket.socket() as s:  # a port nothing listens on once the socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings().model_copy(update={"kafka": KafkaSettings(port=port)})
    started = time.monotonic()
    assert kafka.ready(settings) is False
    assert time.monotonic() - started < 3
