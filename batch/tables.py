"""Where the batch layer's Delta tables live, by medallion layer.

``bronze/<source>`` raw rows as text plus ingestion metadata; ``bronze/_quarantine`` rows and files
that failed checks, with the reason; ``bronze/_ingest_log`` one row per landing file taken.
``silver/records`` one row per bronze row with normalized identifiers; ``silver/rejections``
identifier values refused (invalid, blocked); ``silver/links`` anchor -> identifier links.
``gold/*`` what analysts and the publish read: state, ucids, assignments, changes, links,
refused links, profiles, events (every event record on its UCID: the customers' timelines), runs.
"""

from __future__ import annotations

from pathlib import Path

GOLD_TABLES = (
    "identity_state", "ucids", "assignments", "identity_changes", "links", "refused_links",
    "profiles", "events", "runs",
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
    """Whether ``path`` holds a Delta table."""
    from delta.tables import DeltaTable

    return Path(path).exists() and DeltaTable.isDeltaTable(spark, path)
