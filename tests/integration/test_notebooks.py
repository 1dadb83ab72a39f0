"""The analysts' notebooks (``notebooks/*.ipynb``) run headless on a small generated lake, so none rots.

The lake is the run's two-run lake (``lake`` in ``tests/integration/conftest.py``, shared with
the DQ tests: 1000 generated customers, a first batch run on the first half of the month, then a
second run on the rest -- so the second run merges customers the first kept apart -- plus a
landing file with broken rows, so quarantine is not empty). Each notebook is executed by papermill in one project kernel shared by the module
(its namespace cleared before each notebook, its Spark session kept, as in a long-lived Jupyter
server), with the lake as its ``lake_dir`` parameter; a cell that raises fails the test. Then
its plots (``image/png`` outputs) are counted, the cells tagged ``table`` must show non-empty
tables, and key figures are checked against the lake.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import TWO_RUN_NOW

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOW = TWO_RUN_NOW


@pytest.fixture(scope="module")
def lake(two_run_lake) -> Path:
    """The two-run lake's root (the notebooks only read it)."""
    return Path(two_run_lake.lake.root)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Any]:
    """One project kernel ("python3", this interpreter) for the module's notebooks, as in an
    analyst's long-lived Jupyter server: its Spark session (one JVM) serves every notebook.
    :func:`_execute` clears the kernel's namespace before each notebook."""
    from jupyter_client.kernelspec import get_kernel_spec
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    # the kernelspec "python3"; its "python" is this interpreter (.venv's)
    assert get_kernel_spec("python3").argv[0] in ("python", "python3", sys.executable)
    km = AsyncKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(NOTEBOOKS))
    yield km
    run_sync(km.shutdown_kernel)(now=True)


def _execute(kernel, name: str, out_dir: Path, **parameters):
    """Run ``notebooks/<name>.ipynb`` in ``kernel`` from a clean namespace (``%reset -f``: no
    name from an earlier notebook survives); the executed notebook."""
    import nbformat
    import papermill
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(kernel.get_connection_info())
    client.start_channels()
    try:
        reply = client.execute_interactive("%reset -f", timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
    out = out_dir / f"{name}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                               kernel_name="python3", km=kernel, cwd=str(NOTEBOOKS), progress_bar=False)
    return nbformat.read(out, as_version=4)


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from ((cell, o) for o in cell.outputs)


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for _, o in _outputs(nb))


def _text(nb) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for _, o in _outputs(nb):
        parts.append(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _assert_tables(nb, expected: int) -> None:
    """Every cell tagged ``table`` displays at least one table, and none is empty."""
    tagged = [c for c in nb.cells if "table" in c.metadata.get("tags", [])]
    assert len(tagged) == expected
    for cell in tagged:
        shown = [o["data"]["text/plain"] for o in cell.outputs
                 if o.output_type in ("display_data", "execute_result") and "text/plain" in o.get("data", {})]
        assert shown, f"no table shown by:\n{cell.source[:300]}"
        assert not [s for s in shown if s.startswith("Empty DataFrame")], f"an empty table in:\n{cell.source[:300]}"


def test_notebooks_are_committed_without_outputs():
    import nbformat

    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["customer_360_explorer", "customer_journey", "identity_graph_health"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and "lake_dir = None" in params[0].source
        assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_identity_graph_health(lake, kernel, spark, tmp_path):
    from pyspark.sql import functions as F

    nb = _execute(kernel, "identity_graph_health", tmp_path, lake_dir=str(lake))
    assert _images(nb) >= 7
    _assert_tables(nb, 7)
    text = _text(nb)
    # segment sizes over time: both runs' versions of gold/segment_members, every segment named
    sizes = [c for c in nb.cells if "segment_sizes" in c.source][0]
    shown = "".join(o["data"]["text/plain"] for o in sizes.outputs if "text/plain" in o.get("data", {}))
    assert "reachable_by_email" in shown and "app_first" in shown, shown
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake / 'gold' / 'segment_members'}`").count()
    assert history >= 2 and shown.count("2026-") >= 2, shown
    # the largest cluster is listed, and the second run's merges are explained
    assignments = spark.read.format("delta").load(str(lake / "gold" / "assignments"))
    state = spark.read.format("delta").load(str(lake / "gold" / "identity_state")).where("id_type != '_record'")
    largest = (assignments.groupBy("ucid").count().join(state.groupBy("ucid").agg(F.count("*").alias("ids")), "ucid", "left")
               .orderBy(F.desc("count"), F.desc("ids"), "ucid").first())
    assert largest.ucid in text
    merges = (spark.read.format("delta").load(str(lake / "gold" / "identity_changes")).where("kind = 'merge'")
              .orderBy(F.desc("at"), "new_id").collect())
    assert merges, "the second run merged nobody: no merge to explain"
    assert f"{len(merges)} merges in all" in text
    assert f"merged into {merges[0].new_id} (run nb-{NOW}" in text
    # the broken landing rows are in the quarantine figures
    assert "not valid JSON" in text and "required column empty: cookie_id" in text


def test_customer_journey(lake, kernel, tmp_path):
    nb = _execute(kernel, "customer_journey", tmp_path, lake_dir=str(lake))
    assert _images(nb) >= 5
    _assert_tables(nb, 5)
    text = _text(nb)
    assert "abandonment %" in text and "followed by a contact" in text
    assert "web → " in text or "app → " in text or "email → " in text  # paths of several channels


def test_customer_360_explorer_picks_a_customer(lake, kernel, spark, tmp_path):
    from pyspark.sql import functions as F

    nb = _execute(kernel, "customer_360_explorer", tmp_path, lake_dir=str(lake))
    assert _images(nb) >= 1
    _assert_tables(nb, 3)
    profiles = spark.read.format("delta").load(str(lake / "gold" / "profiles"))
    expected = profiles.orderBy(F.desc(F.size("sources")), F.desc("record_count"), "ucid").first().ucid
    assert f"customer: {expected}" in _text(nb)


def test_customer_360_explorer_follows_identifier_and_merged_ucid(lake, kernel, spark, tmp_path):
    """A raw e-mail (upper case, padded) finds its customer; a merged UCID leads to its survivor."""
    from pyspark.sql import functions as F

    gold = lake / "gold"
    alias = (spark.read.format("delta").load(str(gold / "ucids")).where("status = 'merged'")
             .orderBy("ucid").first())
    assert alias is not None
    survivor = alias.merged_into
    email = (spark.read.format("delta").load(str(gold / "identity_state"))
             .where((F.col("ucid") == survivor) & (F.col("id_type") == "email")).orderBy("id_value").first())
    assert email is not None, f"survivor {survivor} holds no e-mail"

    nb = _execute(kernel, "customer_360_explorer", tmp_path, lake_dir=str(lake), id_type="email",
                  id_value=f"  {email.id_value.upper()} ")
    _assert_tables(nb, 3)
    assert f"customer: {survivor}  (holds email {email.id_value}" in _text(nb)

    nb = _execute(kernel, "customer_360_explorer", tmp_path, lake_dir=str(lake), ucid=alias.ucid)
    text = _text(nb)
    assert f"customer: {survivor}  (given as {alias.ucid}, merged into {survivor})" in text
    assert alias.ucid in text.split("customer:", 1)[1]  # the identity history lists the alias


def test_a_notebook_that_fails_fails_the_test(lake, kernel, tmp_path):
    """An unknown UCID raises in the notebook; papermill reports it."""
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError, match="never issued"):
        _execute(kernel, "customer_360_explorer", tmp_path, lake_dir=str(lake), ucid="U" + "Z" * 20)
