"""Both connected-components paths agree: distributed large-star/small-star and scipy."""

from __future__ import annotations

import random

import pytest

pytestmark = pytest.mark.integration


def _graphs():
    rng = random.Random(20261123)
    yield "path of 300", [(i, i + 1) for i in range(300)]  # long diameter: many rounds
    yield "star", [(0, i) for i in range(1, 200)]
    yield "reversed path", [(i + 1, i) for i in range(0, 500, 1)][::-1]
    for n in range(3):
        nodes = [rng.randrange(-(1 << 63), 1 << 63) for _ in range(400)]  # 64-bit ids, like xxhash64
        edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(350)]
        edges += [(a, a) for a in nodes[:5]]  # self loops are dropped
        edges += edges[:20]  # duplicates
        yield f"random {n}", edges


@pytest.mark.parametrize("name,edges", list(_graphs()), ids=[g[0] for g in _graphs()])
def test_spark_components_equal_scipy(spark, name, edges):
    import numpy as np

    from batch.components import components_spark, label_components

    df = spark.createDataFrame(edges, "u long, v long")
    got = {r.node: r.component for r in components_spark(df).collect()}
    u = np.array([a for a, b in edges if a != b], dtype=np.int64)
    v = np.array([b for a, b in edges if a != b], dtype=np.int64)
    ids, roots = label_components(u, v)
    want = dict(zip(ids.tolist(), roots.tolist(), strict=True))
    assert got == want, name
