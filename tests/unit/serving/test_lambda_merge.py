"""The lambda merge rule as a pure function."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from serving.lambda_merge import merge

S = datetime(2026, 1, 31, 12, 0)
BATCH = {
    "attributes": {"city": "Boston", "first_name": "Ann"},
    "consents": {"sms": "opt_out"},
    "channel_counts": {"web": 3},
    "last_seen": datetime(2026, 1, 30),
    "lifetime_spend": Decimal("10.50"),
    "batch_snapshot": S,
}


def upd(event_id: str, minutes: int, **cols):
    at = datetime(2026, 1, 31, 12, minutes) if minutes >= 0 else datetime(2026, 1, 31, 11, 60 + minutes)
    return {"ucid": "U1", "event_id": event_id, "applied_at": at, "event_time": at, **cols}


def test_no_updates_is_the_batch_view():
    m = merge(BATCH, [])
    assert m.attributes == BATCH["attributes"] and m.channel_counts == {"web": 3}
    assert m.lifetime_spend == Decimal("10.50") and m.speed_updates == 0


def test_updates_after_the_snapshot_are_folded_in_applied_order():
    updates = [
        upd("e2", 5, attributes={"city": "Denver"}, channel="web", amount=2.25),
        upd("e1", 1, attributes={"city": "Austin"}, consents={"sms": "opt_in"}, channel="app"),
    ]
    m = merge(BATCH, updates)
    assert m.attributes == {"city": "Denver", "first_name": "Ann"}
    assert m.consents == {"sms": "opt_in"}
    assert m.channel_counts == {"web": 4, "app": 1}
    assert m.lifetime_spend == Decimal("12.75")
    assert m.last_seen == datetime(2026, 1, 31, 12, 5)
    assert m.speed_updates == 2 and m.speed_updated_at == datetime(2026, 1, 31, 12, 5)
    assert m.last_contact["web"] == datetime(2026, 1, 31, 12, 5)


def test_updates_at_or_before_the_snapshot_change_nothing():
    old = [upd("e0", -5, attributes={"city": "Stale"}, channel="web", amount=100.0), upd("eS", 0, channel="web")]
    assert merge(BATCH, old) == merge(BATCH, [])


def test_without_a_batch_row_every_update_counts():
    m = merge(None, [upd("e1", 1, attributes={"first_name": "Nova"}, channel="web", amount=1.5)])
    assert m.attributes == {"first_name": "Nova"} and m.lifetime_spend == Decimal("1.5")
    assert m.batch_snapshot is None and m.first_seen == datetime(2026, 1, 31, 12, 1)


def test_result_does_not_depend_on_row_order():
    rows = [upd(f"e{i}", i % 7, attributes={"k": str(i)}, channel="web") for i in range(1, 12)]
    assert merge(BATCH, rows) == merge(BATCH, list(reversed(rows)))
