"""Both connected-components paths agree: distributed large-star/small-star and scipy, on small
shaped graphs and, through batch resolve with the threshold forced low, on a random graph above it."""

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


@pytest.mark.parametrize("chunk_edges", [0, 97, 1100, 1_000_000],
                         ids=["stars only", "small chunks", "two chunks", "one chunk"])
def test_spark_components_equal_scipy(spark, chunk_edges):
    """Every shaped graph at once, as one graph of disjoint parts (one Spark run: its rounds are
    the longest part's, the path's), each part checked on its own: by star rounds alone; by
    many small chunks contracted with scipy in Spark tasks, star rounds on what crosses them; by
    two chunks, then one more pass on what crosses them; by one chunk holding the whole graph."""
    import numpy as np

    from batch.components import components_spark, label_components

    part_of, edges = {}, []
    for k, (name, part) in enumerate(_graphs()):
        offset = 0 if name.startswith("random") else (k + 1) * 10_000  # the shaped graphs' small ids apart
        for a, b in part:
            a, b = a + offset, b + offset
            assert part_of.setdefault(a, name) == name and part_of.setdefault(b, name) == name
            edges.append((a, b))
    df = spark.createDataFrame(edges, "u long, v long")
    rounds = []
    got = {r.node: r.component for r in
           components_spark(df, on_round=lambda n, m: rounds.append(m), chunk_edges=chunk_edges).collect()}
    u = np.array([a for a, b in edges if a != b], dtype=np.int64)
    v = np.array([b for a, b in edges if a != b], dtype=np.int64)
    ids, roots = label_components(u, v)
    want = dict(zip(ids.tolist(), roots.tolist(), strict=True))
    assert got.keys() == want.keys(), sorted({part_of[n] for n in got.keys() ^ want.keys()})
    wrong = sorted({part_of[n] for n in want if got[n] != want[n]})
    assert not wrong, f"wrong components in: {', '.join(wrong)}"
    assert len(set(want.values())) > len(list(_graphs())), "the parts are not disjoint"
    if chunk_edges == 1_000_000:
        assert rounds == []  # one chunk solved it all
    elif chunk_edges == 1100:
        assert len(rounds) >= 1
    else:
        assert len(rounds) >= 2  # really iterated


# ---------------------------------------------------------------------------------------------
# Above the threshold: the path batch resolve really takes when the graph is too big for scipy.

CC_SEED_ENV = "UCID_TEST_CC_SEED"


class _StopAfterComponents(Exception):
    """Raised by the spy once the components are collected: the rest of resolve is not under test."""


def _random_graph(seed: int, n_edges: int = 3000) -> list[tuple[str, str]]:
    """Identifier pairs (values only; all of type ``email``): a sparse random graph slightly
    above the percolation threshold (one large component, many small ones, isolated pairs),
    plus a path (diameter: several rounds), a star, self loops and duplicates."""
    rng = random.Random(seed)
    nodes = [f"n{rng.getrandbits(48):012x}@x.test" for _ in range(int(n_edges * 1.6))]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(n_edges)]
    path = [f"p{i}@x.test" for i in range(40)]
    edges += list(zip(path, path[1:], strict=False))
    edges += [("hub@x.test", f"s{i}@x.test") for i in range(60)]
    edges += [(a, a) for a in nodes[:10]]  # self loops carry no edge
    edges += edges[:50]  # a link seen twice is one edge
    return edges


def test_distributed_path_above_the_threshold_equals_scipy(spark, tmp_path, settings, monkeypatch):
    """Batch resolve, with ``UCID_BATCH_LOCAL_CC_MAX_EDGES`` forced below the graph's size, takes
    the distributed path (not scipy) and its components are scipy's, component for component."""
    import os

    import numpy as np

    from batch import resolve as resolve_mod
    from batch.components import label_components
    from batch.tables import Lake
    from identity.rules import load_policy
    from infra.settings import BatchSettings

    seed = int(os.environ.get(CC_SEED_ENV) or random.SystemRandom().randrange(1 << 32))
    print(f"graph seed {seed} (rerun with {CC_SEED_ENV}={seed})")
    pairs = _random_graph(seed)

    # silver records as silver.build writes them: anchor first in ``ids``; one link per record
    rows = [("crm", f"r{i}", "email", a, [("email", a)] + ([("email", b)] if b != a else []))
            for i, (a, b) in enumerate(pairs)]
    lake = Lake(tmp_path / "lake")
    (spark.createDataFrame(rows, "source string, record_id string, anchor_type string, anchor_value string, "
                                 "ids array<struct<type:string,value:string>>")
     .write.format("delta").save(lake.silver("records")))

    monkeypatch.setenv("UCID_BATCH_LOCAL_CC_MAX_EDGES", "1000")
    threshold = BatchSettings().local_cc_max_edges
    assert threshold == 1000
    chunk = 700  # about 5 chunks contracted with scipy in Spark tasks, then star rounds across them

    seen = {}

    def spy_spark(edges, max_rounds=60, on_round=None, chunk_edges=0):
        assert chunk_edges == chunk
        seen["edges"] = [tuple(r) for r in edges.select("u", "v", "a_value", "b_value").collect()]
        seen["rounds"] = []
        comps = real_spark(edges, max_rounds, on_round=lambda n, m: seen["rounds"].append(n), chunk_edges=chunk_edges)
        seen["components"] = {r.node: r.component for r in comps.collect()}
        raise _StopAfterComponents

    def spy_local(spark_, edges):
        raise AssertionError(f"scipy path taken with {edges.count():,} edges above the threshold {threshold}")

    real_spark = resolve_mod.components_spark
    monkeypatch.setattr(resolve_mod, "components_spark", spy_spark)
    monkeypatch.setattr(resolve_mod, "components_local", spy_local)
    policy = load_policy(settings.conf_dir / "rules.yaml")
    with pytest.raises(_StopAfterComponents):
        resolve_mod.resolve(spark, lake, policy, str(settings.conf_dir / "rules.yaml"), None, 1_790_000_000,
                            "cc-above-threshold", local_cc_max_edges=threshold, cc_chunk_edges=chunk)

    distinct = {frozenset(p) for p in pairs if p[0] != p[1]}
    assert len(seen["edges"]) == len(distinct) > threshold, seed
    assert len(seen["rounds"]) >= 1, seed  # chunks left work across them: really iterated

    # the graph resolve handed over is the generated one (node ids are xxhash64 of the identifier)
    value_of = {}
    for u, v, a, b in seen["edges"]:
        value_of[u], value_of[v] = a, b
    assert {frozenset((a, b)) for _, _, a, b in seen["edges"]} == distinct, seed

    # scipy on the same 64-bit ids: same node set, same root (smallest id) for every node
    u = np.array([e[0] for e in seen["edges"]], dtype=np.int64)
    v = np.array([e[1] for e in seen["edges"]], dtype=np.int64)
    ids, roots = label_components(u, v)
    want = dict(zip(ids.tolist(), roots.tolist(), strict=True))
    got = seen["components"]
    assert got.keys() == want.keys(), seed
    wrong = [value_of[n] for n in want if got[n] != want[n]]
    assert not wrong, f"seed {seed}: {len(wrong)} nodes in the wrong component, e.g. {wrong[:5]}"

    def partition(labels):
        groups = {}
        for node, root in labels.items():
            groups.setdefault(root, set()).add(value_of[node])
        return sorted(map(sorted, groups.values()))

    # component for component, in identifier values, against scipy on the generated pairs
    # (independent of the 64-bit ids: a hash collision would show here)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    values = sorted({x for p in distinct for x in p})
    index = {x: i for i, x in enumerate(values)}
    ends = np.array([[index[x] for x in sorted(p)] for p in distinct])
    n = len(values)
    _, labels = connected_components(coo_matrix((np.ones(len(ends)), (ends[:, 0], ends[:, 1])), shape=(n, n)),
                                     directed=False)
    scipy_groups = {}
    for x, label in zip(values, labels.tolist(), strict=True):
        scipy_groups.setdefault(label, set()).add(x)
    want_partition = sorted(map(sorted, scipy_groups.values()))
    assert len(want_partition) > 1, seed
    assert partition(got) == want_partition, seed
