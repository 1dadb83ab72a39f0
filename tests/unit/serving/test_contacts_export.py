"""Contact history paging with the speed layer's events folded in, and the contacts / export routes
against the in-memory store of test_app (scopes, audit rows, aliases followed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from infra.settings import ServingSettings
from serving import contacts, keys, timeline
from serving.app import create_app
from tests.unit.serving.test_app import A, B, FakeStore, _key

T0 = datetime(2026, 1, 10, 14, 0)


def _row(contact_id, direction, channel, started, outcome, responses=None, topic=None):
    return {"contact_id": contact_id, "direction": direction, "channel": channel, "started_at": started,
            "last_at": started, "topic": topic, "outcome": outcome, "responses": responses or {}, "details": {}}


BATCH = [_row("email:CMP1", "outbound", "email", T0, "no_response", topic="Spring"),
         _row("phone:event:IX1", "assisted", "phone", T0 + timedelta(days=1), "resolved", topic="payment"),
         _row("web:S1", "inbound", "web", T0 + timedelta(days=2), "browsed")]


class ContactStore(FakeStore):
    def __init__(self):
        super().__init__()
        self.contact_rows = {B: list(BATCH)}
        self.updates = [  # the speed layer, after the snapshot: an open of the old campaign, a new call
            {"event_id": "e-open", "type": "email_open", "channel": "email", "event_time": T0 + timedelta(days=3),
             "applied_at": datetime(2026, 2, 1), "attributes": {"campaign_id": "CMP1"}},
            {"event_id": "IX2", "type": "call", "channel": "contact_center", "event_time": T0 + timedelta(days=4),
             "applied_at": datetime(2026, 2, 1), "attributes": {"reason": "plan_change", "outcome": "callback"}},
        ]

    async def contacts(self, u, limit):
        return sorted(self.contact_rows.get(u, []), key=lambda r: r["started_at"], reverse=True)[:limit]

    async def contact_summary(self, u):
        return {"contact_counts": {"outbound:email": 1}, "contact_last": {"outbound:email": T0}} if u == B else None

    async def profile_updates(self, u, after):
        return [r for r in self.updates if after is None or r["applied_at"] > after] if u == B else []


def test_the_speed_layers_events_extend_old_contacts_and_add_new_ones():
    store = ContactStore()
    history = asyncio.run(contacts.history(store, [B], store.updates))
    got = [(c.contact_id, c.outcome, c.started_at) for c in history]
    assert got == [("phone:event:IX2", "callback", T0 + timedelta(days=4)),
                   ("web:S1", "browsed", T0 + timedelta(days=2)),
                   ("phone:event:IX1", "resolved", T0 + timedelta(days=1)),
                   ("email:CMP1", "opened", T0)]  # the open joined the campaign sent before the snapshot


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_neither_overlap_nor_skip_and_filters_apply_before_paging(limit):
    store = ContactStore()
    history = asyncio.run(contacts.history(store, [B], store.updates))
    seen, cursor = [], None
    while True:
        page, cursor = contacts.page(history, limit, cursor)
        assert len(page) <= limit
        seen += [c.contact_id for c in page]
        if cursor is None:
            break
    assert seen == [c.contact_id for c in history]
    phone, nxt = contacts.page(history, 5, None, channel="phone")
    assert [c.contact_id for c in phone] == ["phone:event:IX2", "phone:event:IX1"] and nxt is None
    assisted, _ = contacts.page(history, 1, None, direction="assisted")
    rest, _ = contacts.page(history, 5, _, direction="assisted")
    assert [c.contact_id for c in assisted + rest] == ["phone:event:IX2", "phone:event:IX1"]


def test_a_cursor_this_api_did_not_issue_is_refused():
    with pytest.raises(timeline.BadCursor):
        contacts.page([], 5, "not-a-cursor")


@pytest.fixture
def store():
    return ContactStore()


def _client(store, *scopes):
    app = create_app(ServingSettings(key_cache_ttl_s=0), store=store)
    return TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": _key(store, *scopes)})


def test_contacts_route_follows_the_alias_pages_and_is_audited(store):
    with _client(store, "profile:read") as client:
        first = client.get(f"/v1/profiles/{A}/contacts", params={"limit": 2})
        assert first.status_code == 200, first.text
        body = first.json()
        assert [c["contactId"] for c in body["contacts"]] == ["phone:event:IX2", "web:S1"]
        assert body["contacts"][0]["direction"] == "assisted" and body["contacts"][0]["outcome"] == "callback"
        second = client.get(f"/v1/profiles/{A}/contacts", params={"limit": 2, "cursor": body["nextCursor"]}).json()
        assert [c["contactId"] for c in second["contacts"]] == ["phone:event:IX1", "email:CMP1"]
        assert second["nextCursor"] is None
        assert client.get(f"/v1/profiles/{B}/contacts", params={"channel": "fax"}).status_code == 422
        assert client.get(f"/v1/profiles/{B}/contacts", params={"cursor": "zz"}).status_code == 422
    assert store.audited[0] == (B, "profile.contacts", "t", "ucid", A)


def test_export_needs_privacy_read_and_holds_identifiers_contacts_and_changes(store):
    with _client(store, "profile:read") as client:
        assert client.get(f"/v1/profiles/{B}/export").status_code == 403
    assert store.audited == []
    with _client(store, "privacy:read") as client:
        answer = client.get(f"/v1/profiles/{A}/export")
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["_id"]["ucid"] == B and doc["ucids"] == [B, A]
    assert {(i["type"], i["value"]) for i in doc["identifiers"]} == {("email", "ann@x.org"), ("crm_id", "C1")}
    assert [c["contactId"] for c in doc["contacts"]][-1] == "email:CMP1"
    assert doc["contactSummary"] == {"outbound:email": {"count": 1, "lastStartedAt": T0.isoformat() + "Z"}}  # UTC, with its offset
    assert doc["identityChanges"][0]["kind"] == "merge"
    assert [(c["purpose"], c["channel"], c["status"], c["legalBasis"]) for c in doc["consentStatements"]] == [
        ("marketing", "email", "opt_out", "consent")]
    assert store.audited == [(B, "export", "t", "ucid", A)]


def test_privacy_read_is_a_scope_a_key_can_be_given():
    assert "privacy:read" in keys.check_scopes(["privacy:read"])
