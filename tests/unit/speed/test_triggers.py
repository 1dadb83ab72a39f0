"""Trigger rules: loading, match rules, absence rules driven by event time."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings, SpeedSettings
from speed.contract import Event, parse_time_ms
from speed.triggers import TriggerConfigError, TriggerEngine, load_triggers


def ev(i: int, type_: str, t: str, **attrs) -> Event:
    return Event(f"E{i}", type_, t, parse_time_ms(t), "web", "web", {"cookie_id": "k"}, attrs)


def engine() -> TriggerEngine:
    return TriggerEngine(load_triggers(SpeedSettings().triggers_path(Settings().conf_dir)))


def test_repo_rules_load() -> None:
    names = {r.name for r in load_triggers(SpeedSettings().triggers_path(Settings().conf_dir))}
    assert {"abandoned_cart", "usage_limit_reached"} <= names


def test_match_rule_fires_with_its_window() -> None:
    e = engine()
    fires = e.observe(0, "U1", ev(1, "usage", "2026-01-01T10:00:00Z", usage_pct=100))
    assert [(f.rule, f.ucid, f.window_start) for f in fires] == [
        ("usage_limit_reached", "U1", parse_time_ms("2026-01-01T00:00:00Z"))]
    assert e.observe(0, "U1", ev(2, "usage", "2026-01-01T10:00:00Z", usage_pct=80)) == []


def test_abandoned_cart_fires_after_30_minutes_of_event_time_unless_purchased() -> None:
    e = engine()
    e.observe(0, "U1", ev(1, "add_to_cart", "2026-01-01T10:00:00Z"))
    e.observe(0, "U2", ev(2, "add_to_cart", "2026-01-01T10:00:00Z"))
    e.observe(0, "U2", ev(3, "purchase", "2026-01-01T10:10:00Z"))
    assert e.due(0) == []
    e.observe(0, "U3", ev(4, "page_view", "2026-01-01T10:31:00Z"))  # event time moves on
    fires = e.due(0)
    assert [(f.rule, f.ucid, f.event_id) for f in fires] == [("abandoned_cart", "U1", "E1")]
    assert e.due(0) == []
    dirty = dict(e.take_dirty(0))
    assert dirty[("abandoned_cart", "U1")] is None and dirty[("abandoned_cart", "U2")] is None


def test_a_bad_rules_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: 1\ntriggers:\n  - {name: x, kind: absence, when: {type: a}, window_s: 10}\n")
    with pytest.raises(TriggerConfigError, match="absence rule needs"):
        load_triggers(path)
