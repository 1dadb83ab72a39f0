"""A new KRaft cluster id is 16 bytes in url-safe base64 and never starts with "-"."""

from __future__ import annotations

import base64

from infra.kafka import new_cluster_id


def test_new_cluster_ids_are_16_bytes_and_never_start_with_a_dash():
    ids = [new_cluster_id() for _ in range(5000)]  # about 78 of 5,000 raw ids would start with "-"
    assert len(set(ids)) == len(ids)
    for cluster_id in ids:
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
