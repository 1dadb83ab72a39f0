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
