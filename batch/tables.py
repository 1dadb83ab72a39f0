"""Where the batch layer's Delta tables live, by medallion layer.

``bronze/<source>`` raw rows as text plus ingestion metadata; ``bronze/_quarantine`` rows and files
that failed checks, with the reason; ``bronze/_ingest_log`` one row per landing file taken.
``silver/records`` one row per bronze row with normalized identifiers; ``silver/rejections``
identifier values refused (invalid, blocked); ``silver/links`` anchor -> identifier links.
``gold/*`` what analysts and the publish read: state, ucids, assignments, changes, links,
refused links, profiles, events (every event record on its UCID: the customers' timelines), runs,
the match model's review band (``match_review``: record pairs a data steward should look at) and
its person rows with their block keys (``match_blocks``: what the publish writes into the speed
layer's blocking index), and ``published``: the content hashes of the last publish into each
keyspace (what the next one compares with, to write only the rows that changed), and
``traits`` and ``segment_members``: computed traits and segment memberships (:mod:`batch.segments`);
``speed_seen``: the keys of the speed layer's rows the last resolve read, with its run id (what
that run's publish writes again).
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT: dict[str, object] = {}
"""Keyword arguments of every ``localCheckpoint`` of the batch layer: empty (Spark's default, one
copy in the executor that computed it) unless ``UCID_SPARK_CHECKPOINT_REPLICAS`` asks for more
copies, set by :func:`batch.spark.spark_session`. A local checkpoint cuts the lineage: with one
copy, an executor lost after it fails the job ("Checkpoint block ... not found"), where a
replicated one is read from the other executor."""

GOLD_TABLES = (
    "identity_state", "ucids", "assignments", "identity_changes", "links", "refused_links",
    "profiles", "events", "contacts", "runs", "match_review", "match_blocks", "published", "speed_seen", "consents",
    "consent_state", "traits", "segment_members",
)


class Lake:
    """Paths of every table under one lake root (``UCID_LAKE_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def bronze(self, source: str) -> str:
        return str(self.root / "bronze" / source)

    @property
    def quarantine(self) -> str:
        return str(self.root / "bronze" / "_quarantine")

    @property
    def ingest_log(self) -> str:
        return str(self.root / "bronze" / "_ingest_log")

    def silver(self, name: str) -> str:
        return str(self.root / "silver" / name)

    def gold(self, name: str) -> str:
        if name not in GOLD_TABLES:
            raise KeyError(f"unknown gold table {name!r}")
        return str(self.root / "gold" / name)

    @property
    def checkpoints(self) -> str:
        return str(self.root / "_checkpoints")


def exists(spark, path: str) -> bool:
    """Whether ``path`` holds a Delta table: a ``_delta_log`` with at least one commit. A file
    check, no Spark call: the same on a local session and a Spark Connect one."""
    log = Path(path) / "_delta_log"
    return log.is_dir() and (any(log.glob("*.json")) or any(log.glob("*.checkpoint*.parquet")))


def sql_list(values) -> str:
    """SQL string literals, comma-separated (quotes and backslashes escaped)."""
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def table_ref(path: str) -> str:
    """``delta.`<path>``` for Spark SQL (a backtick in the path doubled)."""
    return "delta.`" + path.replace("`", "``") + "`"


def last_commit(spark, path: str):
    """The table's newest history row (``version``, ``operation``, ``operationMetrics``, ...),
    through SQL (``DESCRIBE HISTORY``), which a Spark Connect session runs as well."""
    return spark.sql(f"DESCRIBE HISTORY {table_ref(path)} LIMIT 1").first()


def delete_where(spark, path: str, predicate: str) -> None:
    """``DELETE FROM`` the table the rows matching the SQL ``predicate``."""
    spark.sql(f"DELETE FROM {table_ref(path)} WHERE {predicate}")
