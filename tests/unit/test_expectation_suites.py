"""The suite files in expectations/ are valid GX 1.x suites, each bound to a known table or view,
and every suite parameter they use is one :func:`batch.validate.parameters` provides (no Spark)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from batch.validate import LAYERS, VIEWS, load_suite, parameters, suite_files
from infra.settings import BatchSettings

FILES = [p for layer in LAYERS for p in suite_files(layer)]


def _parameter_names(value) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return {value["$PARAMETER"]}
        return set().union(*map(_parameter_names, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_parameter_names, value)) if value else set()
    return set()


def test_every_layer_has_suites_and_every_view_a_suite():
    assert {p.parent.name for p in FILES} == set(LAYERS)
    assert {f"{p.parent.name}.{p.stem}" for p in FILES if p.parent.name != "published"} == set(VIEWS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}.{p.stem}")
def test_suite_is_a_valid_gx_suite(path):
    import great_expectations as gx

    data = load_suite(path)
    suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"], meta=data.get("meta"))
    assert len(suite.expectations) == len(data["expectations"])  # none dropped as invalid
    policy = SimpleNamespace(max_cluster_identifiers=50, types={"email": None, "crm_id": None})
    known = set(parameters(policy, BatchSettings(), {"identifiers": 1, "ucids": 1, "aliases": 0}))
    assert _parameter_names(json.loads(path.read_text())) <= known
    assert all((e.get("meta") or {}).get("why") for e in data["expectations"]), "every expectation says why"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}.{p.stem}")
def test_row_conditions_are_engine_neutral_and_their_columns_known(path):
    """A suite runs on pandas (a small lake) or Spark (a large one): a condition string in one
    engine's syntax would mean nothing, or something else, on the other."""
    from great_expectations.expectations.row_conditions import Condition, deserialize_row_condition

    from batch.validate import suite_columns

    data = load_suite(path)
    for e in data["expectations"]:
        cond = e["kwargs"].get("row_condition")
        assert "condition_parser" not in e["kwargs"]
        if cond is not None:
            assert isinstance(deserialize_row_condition(cond), Condition), cond
    assert suite_columns(data), "the columns to collect are known"


def test_a_condition_selects_the_same_rows_on_pandas_as_its_spark_sql_did():
    """gold.clusters' `status = 'live' AND records > 0`, now engine-neutral, on pandas."""
    import great_expectations as gx
    import pandas as pd

    data = load_suite(next(p for p in FILES if p.stem == "clusters"))
    conditioned = [e for e in data["expectations"]
                   if e["kwargs"].get("row_condition", {}).get("type") == "and"]
    assert len(conditioned) == 1
    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    suite = context.suites.add(gx.ExpectationSuite(name="s", expectations=conditioned))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    column = conditioned[0]["kwargs"]["column"]
    params = {"max_cluster_identifiers": 50, "max_cluster_records": 1000}
    good = pd.DataFrame({"status": ["live", "merged", "live"], "records": [2, 0, 0], column: [1, 0, 0]})
    bad = good.assign(**{column: [0, 0, 0]})
    assert definition.run(batch_parameters={"dataframe": good}, expectation_parameters=params).success
    assert not definition.run(batch_parameters={"dataframe": bad}, expectation_parameters=params).success
