"""Connected components of the identity graph, without collecting the graph on the driver.

Nodes are 64-bit ids (``xxhash64`` of type and value). A hash collision can only put two
components into one group, which is harmless: the identity core clusters each group with the
limits, and clustering a union of components equals clustering each of them (see
:mod:`identity.cluster`). So ids need no global dictionary.

Two paths with one contract -- ``(node, component)`` for every edge endpoint, the component
being the smallest node id of its component:

* :func:`components_spark`: the alternating large-star / small-star algorithm (Kiveris et al.,
  "Connected Components in MapReduce and Beyond", SoCC 2014), O(log^2 n) rounds of joins and
  aggregations, each round's result checkpointed to cut the lineage;
* :func:`components_local`: ``scipy.sparse.csgraph.connected_components`` on the driver, for
  graphs below ``UCID_BATCH_LOCAL_CC_MAX_EDGES`` edges where shipping them is cheaper than rounds.
"""

from __future__ import annotations

from collections.abc import Callable


class ComponentsDidNotConverge(RuntimeError):
    """The distributed algorithm ran out of rounds (a bug, or a graph far beyond the settings)."""


def _large_star(edges):
    """For each node u: point every larger neighbour at min(N(u) + u)."""
    from pyspark.sql import functions as F

    both = edges.select("u", "v").unionByName(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    mins = both.groupBy("u").agg(F.least(F.min("v"), F.first("u")).alias("m"))
    return (
        both.join(mins, "u").where(F.col("v") > F.col("u"))
        .select(F.col("v").alias("u"), F.col("m").alias("v")).distinct()
    )


def _small_star(edges):
    """For each node u: point u and its smaller neighbours at min(N(u) + u)."""
    from pyspark.sql import functions as F

    oriented = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v")).distinct()
    mins = oriented.groupBy("u").agg(F.min("v").alias("m"))
    moved = oriented.join(mins, "u").select(F.col("v").alias("u"), F.col("m").alias("v"))
    own = mins.select("u", F.col("m").alias("v"))
    return moved.unionByName(own).where(F.col("u") != F.col("v")).distinct()


def components_spark(edges, max_rounds: int = 60, on_round: Callable[[int, int], None] | None = None):
    """``edges``: DataFrame of ``u, v`` (long). Returns ``node, component`` for every endpoint."""
    from pyspark.sql import functions as F

    current = edges.select(F.col("u").cast("long"), F.col("v").cast("long")).where("u != v").distinct()
    current = current.localCheckpoint()
    nodes = current.select(F.col("u").alias("node")).unionByName(current.select(F.col("v").alias("node"))).distinct()
    for n in range(1, max_rounds + 1):
        nxt = _small_star(_large_star(current)).localCheckpoint()
        # converged when every edge is (child -> root): one parent per child, and no root is a child
        children = nxt.select("u").distinct()
        parents = nxt.select(F.col("v").alias("u")).distinct()
        one_parent = nxt.count() == children.count()
        stars = one_parent and parents.join(children, "u").limit(1).count() == 0
        if on_round is not None:
            on_round(n, nxt.count())
        current = nxt
        if stars:
            roots = current.select(F.col("u").alias("node"), F.col("v").alias("component"))
            return (
                nodes.join(roots, "node", "left")
                .select("node", F.coalesce("component", "node").alias("component"))
            )
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")


def label_components(u, v):
    """scipy's connected components on numpy arrays of node ids; returns ``(ids, roots)`` where
    ``roots[i]`` is the smallest node id of ``ids[i]``'s component."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    m = len(u)
    graph = coo_matrix((np.ones(m, dtype=np.int8), (inverse[:m], inverse[m:])), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    # ids are sorted, so the first occurrence of each label is its smallest node id
    _, first = np.unique(labels, return_index=True)
    roots = ids[first][labels]
    return ids, roots


def components_local(spark, edges):
    """The same contract, computed on the driver with scipy (small graphs only)."""
    import numpy as np
    import pandas as pd

    pdf = edges.select("u", "v").toPandas()
    if pdf.empty:
        return spark.createDataFrame([], "node long, component long")
    ids, roots = label_components(pdf["u"].to_numpy(), pdf["v"].to_numpy())
    out = pd.DataFrame({"node": ids.astype(np.int64), "component": roots.astype(np.int64)})
    return spark.createDataFrame(out, "node long, component long")
