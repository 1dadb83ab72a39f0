"""Profile shards: incremental, idempotent by offset, merged across partitions."""

from __future__ import annotations

from speed.contract import Event, parse_time_ms
from speed.profile import Shard, apply_event, merge_shards


def ev(i: int, type_: str = "page_view", channel: str = "web", t: str = "2026-01-01T00:00:00Z", **attrs) -> Event:
    return Event(f"E{i}", type_, t, parse_time_ms(t), channel, channel, {"cookie_id": "k"}, attrs)


def test_an_offset_is_counted_once_however_often_it_is_replayed() -> None:
    s = Shard()
    assert apply_event(s, ev(1), 10, 5)
    assert not apply_event(s, ev(1), 10, 5)
    assert not apply_event(s, ev(0), 9, 5)
    assert s.event_count == 1 and s.channel_counts == {"web": 1} and s.applied_offset == 10


def test_counters_consents_timeline_and_traits() -> None:
    a, b = Shard(), Shard()
    apply_event(a, ev(1, "add_to_cart", t="2026-01-01T10:00:00Z"), 1, 3)
    apply_event(a, ev(2, "purchase", t="2026-01-01T10:05:00Z", amount=40.5), 2, 3)
    apply_event(a, ev(3, "add_to_cart", t="2026-01-01T11:00:00Z"), 3, 3)
    apply_event(a, ev(4, "consent_change", "app", "2026-01-02T00:00:00Z", marketing_email="opt_in",
                      capture_channel="app"), 4, 3)
    apply_event(b, ev(5, "email_unsubscribe", "email", "2026-01-03T00:00:00Z"), 0, 3)
    apply_event(b, ev(6, "email_send", "email", "2026-01-01T00:00:00Z"), 1, 3)
    apply_event(b, ev(7, "email_open", "email", "2026-01-01T01:00:00Z"), 2, 3)
    p = merge_shards([a, b], recent_n=3)
    assert p["event_count"] == 7
    assert p["channel_counts"] == {"web": 3, "app": 1, "email": 3}
    assert p["consents"] == {"marketing_email": "opt_out"}  # the later unsubscribe wins
    assert [r["id"] for r in p["recent"]] == ["E5", "E4", "E3"]
    assert p["last_seen"] == "2026-01-03T00:00:00.000Z"
    t = p["traits"]
    assert t["lifetime_spend"] == 40.5 and t["purchases"] == 1 and t["open_cart"] is True
    assert t["preferred_channel"] == "email" and t["last_channel"] == "email" and t["email_engagement"] == 1.0


def test_timeline_is_bounded() -> None:
    s = Shard()
    for i in range(30):
        apply_event(s, ev(i, t=f"2026-01-01T00:00:{i:02d}Z"), i, 20)
    assert len(s.recent) == 20 and '"id":"E29"' in s.recent[0]
