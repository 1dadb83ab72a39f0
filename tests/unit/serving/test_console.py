"""The console's routes against the in-memory store of ``test_app``: the page and its assets are
public, ``/v1/console/*`` needs the ``console`` scope, the history follows aliases, is audited,
and shows only open triggers (waiting, or fired in a window not over yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infra.settings import ServingSettings
from serving import keys
from serving.app import create_app
from tests.unit.serving.test_app import A, B, T, FakeStore, _key


class TriggerStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        now = datetime.now(UTC).replace(tzinfo=None)
        self.fired = {("high_value_purchase", B): {"rule": "high_value_purchase", "ucid": B, "event_id": "e1",
                                                   "window_start": now - timedelta(hours=1), "fired_at": now},
                      ("email_unsubscribed", A): {"rule": "email_unsubscribed", "ucid": A, "event_id": "e0",
                                                  "window_start": now - timedelta(days=30), "fired_at": now}}
        self.pending_rows = {("abandoned_cart", A): {"shard": 3, "rule": "abandoned_cart", "ucid": A, "event_id": "e2",
                                                     "since": now, "due_at": now + timedelta(minutes=30)}}
        self.shards_asked: list[list[int]] = []

    async def changes(self, u):
        return [{"ucid": B, "kind": "merge", "old_ucids": {A}, "changed_at": T, "change_id": "c1",
                 "rule": "speed", "evidence": "evt-1"}] if u == B else []

    async def fired_latest(self, rule, u):
        return self.fired.get((rule, u))

    async def pending(self, shards, rule, u):
        self.shards_asked.append(shards)
        row = self.pending_rows.get((rule, u))
        return [row] if row and row["shard"] in shards else []


@pytest.fixture
def store() -> TriggerStore:
    return TriggerStore()


@pytest.fixture
def client(store):
    app = create_app(ServingSettings(key_cache_ttl_s=0), store=store)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_the_page_and_assets_are_public_and_the_page_runs_nothing_inline(client):
    page = client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/console/assets/console.js">' in page.text
    assert client.get("/console/assets/console.js").status_code == 200
    assert client.get("/console/assets/console.css").status_code == 200
    assert client.get("/console/assets/nope.js").status_code == 404


def test_the_console_calls_need_the_console_scope(client, store):
    others = {"X-API-Key": _key(store, "resolve", "profile:read", "explain")}
    for path in ("/v1/console/session", f"/v1/console/customers/{B}/history"):
        r = client.get(path, headers=others)
        assert r.status_code == 403 and "'console'" in r.json()["detail"], r.text
        assert client.get(path).status_code == 401


def test_the_session_names_the_missing_scopes(client, store):
    body = client.get("/v1/console/session", headers={"X-API-Key": _key(store, "console", "resolve")}).json()
    assert body["missing"] == ["profile:read", "explain"]
    assert "email" in body["identifierTypes"] and "phone" in body["identifierTypes"]
    full = client.get("/v1/console/session", headers={"X-API-Key": _key(store, *keys.SCOPES)}).json()
    assert full["missing"] == []


def test_history_of_an_alias_is_the_survivors_with_its_open_triggers(client, store):
    r = client.get(f"/v1/console/customers/{A}/history", headers={"X-API-Key": _key(store, "console")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ucid"] == B and body["requested"] == A and body["ucids"] == [B, A]
    assert [(c["kind"], c["oldUcids"]) for c in body["identityChanges"]] == [("merge", [A])]
    # waiting first; the unsubscribe fired 30 days ago in a 7-day window: no longer open
    assert [(t["rule"], t["state"], t["ucid"]) for t in body["triggers"]] == [
        ("abandoned_cart", "waiting", A), ("high_value_purchase", "fired", B)]
    assert store.shards_asked and all(s == [0, 1, 2, 3, 4, 5] for s in store.shards_asked)
    assert store.audited[-1][:2] == (B, "console.history") and store.audited[-1][4] == A


def test_history_of_an_unknown_customer_is_404(client, store):
    r = client.get(f"/v1/console/customers/U{'Z' * 20}/history", headers={"X-API-Key": _key(store, "console")})
    assert r.status_code == 404
