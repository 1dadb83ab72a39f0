"""Connected components of the identity graph, without collecting the graph on the driver.

Nodes are 64-bit ids (``xxhash64`` of type and value). A hash collision can only put two
components into one group, which is harmless: the identity core clusters each group with the
limits, and clustering a union of components equals clustering each of them (see
:mod:`identity.cluster`). So ids need no global dictionary.

Two paths with one contract -- ``(node, component)`` for every edge endpoint, the component
being the smallest node id of its component:

* :func:`components_spark`: first each Spark task labels a chunk of the edges with scipy (at
  most ``chunk_edges`` per task), which contracts every component a chunk holds whole to its
  smallest node; what crosses chunks is left as a smaller graph of local roots, contracted the
  same way while each pass at least halves it (a pass that fits one chunk finishes), else solved
  by the alternating large-star / small-star algorithm (Kiveris et al., "Connected Components in
  MapReduce and Beyond", SoCC 2014): O(log^2 n) rounds of joins and aggregations, each round
  checkpointed to cut the lineage and checked for convergence in one job;
* :func:`components_local`: ``scipy.sparse.csgraph.connected_components`` on the driver, for
  graphs below ``UCID_BATCH_LOCAL_CC_MAX_EDGES`` edges where shipping them is cheaper than rounds.
"""

from __future__ import annotations

from collections.abc import Callable

from batch.tables import CHECKPOINT


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


def _chunk_labels(batches):
    """A ``mapInPandas`` function: scipy's components of all the edges of one partition, as
    ``node, root`` (the smallest node of the node's component within the partition)."""
    import numpy as np
    import pandas as pd

    us, vs = [], []
    for batch in batches:
        us.append(batch["u"].to_numpy())
        vs.append(batch["v"].to_numpy())
    if us:
        ids, roots = label_components(np.concatenate(us), np.concatenate(vs))
        yield pd.DataFrame({"node": ids.astype(np.int64), "root": roots.astype(np.int64)})


def _contract(edges, n_edges: int, chunk_edges: int):
    """``(first, cross)``: ``first`` maps every endpoint to the smallest of its local roots (one
    per chunk that holds it); ``cross`` links the local roots of nodes held by several chunks
    (``u, v``), the graph left to solve. A component a chunk holds whole leaves no cross edge."""
    from pyspark.sql import functions as F

    chunks = -(-n_edges // chunk_edges)
    labels = edges.repartition(chunks).mapInPandas(_chunk_labels, "node long, root long").localCheckpoint(**CHECKPOINT)
    first = labels.groupBy("node").agg(F.min("root").alias("root")).localCheckpoint(**CHECKPOINT)
    cross = (
        labels.join(first.withColumnRenamed("root", "m"), "node").where(F.col("root") != F.col("m"))
        .select(F.col("m").alias("u"), F.col("root").alias("v")).distinct()
    )
    return first, cross


def _endpoints(edges):
    """Every node of ``edges`` (``u, v``) once, as ``node``."""
    from pyspark.sql import functions as F

    return edges.select(F.col("u").alias("node")).unionByName(edges.select(F.col("v").alias("node"))).distinct()


def _stars(current, nodes, told):
    """Large-star / small-star rounds until every edge is (child -> root); ``node, component``
    for every one of ``nodes``. ``told(edges)`` after each round (it raises past the limit)."""
    from pyspark.sql import functions as F

    while True:
        nxt = _small_star(_large_star(current)).localCheckpoint(**CHECKPOINT)
        # converged when every edge is (child -> root): one parent per child, and no root is a
        # child -- one job: each edge, flagged when its parent is itself a child
        children = nxt.select(F.col("u").alias("v"), F.lit(1).alias("parent_is_child")).distinct()
        edges, distinct_children, parent_is_child = (
            nxt.join(children, "v", "left")
            .agg(F.count("*"), F.countDistinct("u"), F.max("parent_is_child"))
            .first()
        )
        current = nxt
        told(edges)
        if edges == distinct_children and parent_is_child is None:
            roots = current.select(F.col("u").alias("node"), F.col("v").alias("component"))
            return (
                nodes.join(roots, "node", "left")
                .select("node", F.coalesce("component", "node").alias("component"))
            )


def components_spark(edges, max_rounds: int = 60, on_round: Callable[[int, int], None] | None = None,
                     chunk_edges: int = 0):
    """``edges``: DataFrame of ``u, v`` (long). Returns ``node, component`` for every endpoint.

    ``chunk_edges`` > 0: contract each chunk of that many edges with scipy in a Spark task, and
    again on the graph of local roots left crossing chunks while that halves the graph; star
    rounds finish what does not (see the module docstring). 0: large-star / small-star on the
    whole graph. ``on_round(n, edges)`` is told of each pass or star round that leaves work."""
    from pyspark.sql import functions as F

    current = edges.select(F.col("u").cast("long"), F.col("v").cast("long")).where("u != v").distinct()
    current = current.localCheckpoint(**CHECKPOINT)
    rounds = iter(range(1, max_rounds + 1))

    def told(edges: int) -> None:
        n = next(rounds, None)
        if n is None:
            raise ComponentsDidNotConverge(f"connected components did not converge in {max_rounds} rounds")
        if on_round is not None:
            on_round(n, edges)

    if chunk_edges <= 0:
        return _stars(current, _endpoints(current), told)
    n_edges = current.count()
    if n_edges == 0:
        return current.select(F.col("u").alias("node"), F.col("v").alias("component"))
    return _contracted(current, n_edges, chunk_edges, told)


def _contracted(current, n_edges: int, chunk_edges: int, told):
    """Components by chunk contraction: this pass, then the graph it leaves (again by chunks
    when it fits one chunk or is at most half this one, else by star rounds)."""
    from pyspark.sql import functions as F

    first, cross = _contract(current, n_edges, chunk_edges)
    cross = cross.localCheckpoint(**CHECKPOINT)
    left = cross.count()
    if left == 0:  # every component held whole by one chunk
        return first.select("node", F.col("root").alias("component"))
    told(left)
    if left <= chunk_edges or left <= n_edges // 2:  # one more pass finishes it, or halves it again
        of_roots = _contracted(cross, left, chunk_edges, told)
    else:
        of_roots = _stars(cross, _endpoints(cross), told)
    # a node's component is its smallest local root's (the smallest node of all, see above)
    return (
        first.join(of_roots.withColumnRenamed("node", "root"), "root", "left")
        .select("node", F.coalesce("component", "root").alias("component"))
        .localCheckpoint(**CHECKPOINT)
    )


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
