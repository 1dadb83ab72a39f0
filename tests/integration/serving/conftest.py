"""Fixtures of the serving integration tests: a published data set in the real Cassandra, API
keys, and the app under test.

``serving_data()`` is the one interface the tests rely on. Today it generates
``ucid generate --customers 2000 --seed 11``, resolves it with the pure-Python reference and
writes it with ``loader.publish`` (a stand-in for the batch layer's publish: swap that one call
for ``batch.publish`` when it lands), then merges one UCID into another the way the speed layer
does (``loader.speed_merge``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

DATA_TABLES = ("identifiers", "identifiers_by_ucid", "ucids", "ucid_aliases", "profiles", "events_by_ucid",
               "identity_changes", "links_by_ucid", "profile_updates", "api_keys")


def _load(name: str) -> ModuleType:
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ucid_serving_it_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


loader = _load("loader")


@dataclass
class ServingData:
    """What the tests need to know: identifiers and their expected UCIDs, a pair linked through
    another identifier, and a UCID merged away with its survivor."""

    keyspace: str
    published: object  # loader.Published
    sample: list[tuple[str, str, str, str]]  # (type, raw value, normalized value, expected UCID)
    explain_pair: tuple[tuple[str, str], tuple[str, str], int]  # a, b, shortest chain length
    alias: str  # UCID merged away after the snapshot
    survivor: str
    alias_identifier: tuple[str, str]  # an identifier the batch wrote pointing at ``alias``
    spare: list[str]  # UCIDs (2+ identifiers) outside ``sample``: tests may change them


@pytest.fixture(scope="session")
def cql_session(stack):
    from infra import cql

    cluster = cql.cluster(stack.cassandra)
    session = cluster.connect()
    yield session
    cluster.shutdown()


def _pick_explain_pair(published) -> tuple[tuple[str, str], tuple[str, str], int]:
    from identity.explain import explain

    by_ucid: dict[str, list] = {}
    for edge in published.edges:
        by_ucid.setdefault(published.ucid_of[edge.a], []).append(edge)
    for ucid in sorted(by_ucid):
        edges = by_ucid[ucid]
        nodes = sorted({n for e in edges for n in (e.a, e.b)})
        for a in nodes:
            for b in nodes:
                if a < b:
                    chain = explain(a, b, edges)
                    if chain and len(chain) >= 2:
                        return a, b, len(chain)
    raise AssertionError("no customer with a two-link chain in the data set")


@pytest.fixture(scope="session")
def serving_data(cql_session, stack, tmp_path_factory) -> ServingData:
    """Publish the data set once per session (tables truncated first, so reruns start clean)."""
    ks = stack.cassandra.keyspace
    for table in DATA_TABLES:
        cql_session.execute(f"TRUNCATE {ks}.{table}")
    data_dir = loader.generate(tmp_path_factory.mktemp("serving-data") / "landing")
    published = loader.publish(cql_session, ks, data_dir, loader.snapshot_time())

    multi = sorted(u for u, ids in published.members.items() if len(ids) >= 2)
    sample = []
    for ucid in multi[:40]:
        for ident in published.members[ucid][:3]:
            sample.append((ident[0], published.raw_of.get(ident, ident[1]), ident[1], ucid))
    survivor, alias = multi[-1], multi[-2]
    link = (published.members[alias][0], published.members[survivor][0])
    loader.speed_merge(cql_session, ks, alias, survivor, link)
    return ServingData(ks, published, sample, _pick_explain_pair(published), alias, survivor,
                       published.members[alias][0], multi[40:-2])


@pytest.fixture(scope="session")
def api_keys(cql_session, serving_data, stack) -> dict[str, str]:
    """Keys by role: ``all`` (every scope), ``resolve`` (resolve only), ``revoked``."""
    from infra.store import Store
    from serving import keys

    store = Store(cql_session, stack.cassandra.model_copy(update={"keyspace": serving_data.keyspace}))
    out = {
        "all": keys.create(store, "it-all", list(keys.SCOPES))[1],
        "resolve": keys.create(store, "it-resolve", ["resolve"])[1],
    }
    record, out["revoked"] = keys.create(store, "it-revoked", ["resolve"])
    keys.revoke(store, record.key_id)
    return out


@pytest.fixture(scope="session")
def app(serving_data):
    from serving.app import create_app
    from infra.settings import ServingSettings

    # key cache off: revocation and the lambda tests see every write at once
    return create_app(ServingSettings(key_cache_ttl_s=0))


@pytest.fixture(scope="session")
def client(app, api_keys) -> Iterator:
    """A client of the app (lifespan run: one real Cassandra session), sending the all-scopes key."""
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"X-API-Key": api_keys["all"]}, raise_server_exceptions=False) as c:
        yield c
