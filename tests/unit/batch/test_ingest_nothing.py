"""A first ``ucid batch run`` on a landing zone with no file of any source fails in ingest, with
the way out, instead of "succeeding" with empty tables (Spark and the lake faked: the check is
the decision after the load, not the load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch import bronze
from batch import run as pipeline
from infra.settings import Settings


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(bronze, "load_source",
                        lambda spark, root, lake, source, load_id, pending, suppressed=None: bronze.SourceLoad(source.name))
    # nobody erased: the suppression list is read from Cassandra, which this test does not have
    monkeypatch.setattr(pipeline, "suppression_list", lambda settings: (b"k", frozenset()))
    monkeypatch.setattr(bronze, "commit", lambda spark, lake, pending: None)
    settings = Settings(home=tmp_path / "home", landing_dir=tmp_path / "landing")
    context = pipeline.context(settings, report=lambda msg: None)
    context._spark = object()  # never started: load_source, commit and exists are faked
    return context


def test_nothing_landed_and_nothing_ingested_before_fails(ctx, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "exists", lambda spark, path: False)
    with pytest.raises(pipeline.NothingIngested) as err:
        pipeline.ingest(ctx)
    assert f"no file of any source under {ctx.landing}" in str(err.value)
    assert f"ucid sources check --local {ctx.landing}" in str(err.value)


def test_nothing_new_after_an_earlier_ingest_is_fine(ctx, monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(pipeline, "exists", lambda spark, path: seen.append(path) or True)
    out = pipeline.ingest(ctx)
    assert set(out) == {s.name for s in ctx.sources} and all(v["files_new"] == 0 for v in out.values())
    assert seen == [ctx.lake.ingest_log]
