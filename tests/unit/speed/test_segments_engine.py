"""The speed layer's segment step (speed/segments.py) over a store of rows: the lambda merge of the
batch's published facts and the newer speed updates, aliases, who leaves when merged away, and
changes that are deterministic (a replay sends the same change id) and only on a real change."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace as Row

from identity.consents import load_vocabulary
from identity.segments import DAY_MS, EventFact, dump_facts, encode_trait, facts_of, load_definitions
from speed.contract import Event
from speed.segments import SegmentEngine

CONF = Path(__file__).resolve().parents[3] / "conf"
V = load_vocabulary(CONF / "consents.yaml")
D = load_definitions(CONF / "segments.yaml", V)
NOW = 20_460 * DAY_MS
SNAPSHOT = datetime(2026, 1, 1)  # naive UTC, as the driver reads it
AFTER = datetime(2026, 1, 2)


class Store:
    """``many_in`` over rows by statement: enough for the engine's reads."""

    def __init__(self) -> None:
        self.ucids: dict[str, Row] = {}
        self.changes: dict[str, list[Row]] = {}
        self.traits: dict[str, Row] = {}
        self.updates: dict[str, list[Row]] = {}
        self.segments: dict[str, list[Row]] = {}

    def many_in(self, name: str, keys, before=(), after=()):
        keys = list(keys)
        source = {"get_ucids_in": lambda k: [self.ucids[k]] if k in self.ucids else [],
                  "get_changes_in": lambda k: self.changes.get(k, []),
                  "get_traits_in": lambda k: [self.traits[k]] if k in self.traits else [],
                  "get_updates_in": lambda k: self.updates.get(k, []),
                  "get_consents_in": lambda k: [],
                  "get_attributes_in": lambda k: [],
                  "get_segments_of_in": lambda k: self.segments.get(k, [])}[name]
        return [row for k in keys for row in source(k)]


def update(ucid: str, event_id: str, type_: str, channel: str, days_ago: float, amount=None, applied=AFTER) -> Row:
    return Row(ucid=ucid, event_id=event_id, applied_at=applied, event_time=datetime.utcfromtimestamp(
        (NOW - days_ago * DAY_MS) / 1000), type=type_, channel=channel, amount=amount, attributes={})


def event(event_id: str) -> Event:
    return Event(event_id, "purchase", "", NOW - DAY_MS, "web", "web", {}, {})


def test_batch_facts_plus_newer_updates_only() -> None:
    store = Store()
    batch = facts_of(D, [EventFact("old", "purchase", "web", NOW - 5 * DAY_MS, 80.0, {})])
    store.traits["U1"] = Row(ucid="U1", traits={}, batch_facts=dump_facts(batch), batch_snapshot=SNAPSHOT)
    # "old" was applied before the snapshot (already in the batch's facts): not counted again
    store.updates["U1"] = [update("U1", "old", "purchase", "web", 5, 80.0, applied=datetime(2025, 12, 31)),
                           update("U1", "new", "purchase", "web", 1, 30.0)]
    out = SegmentEngine(store, D, V).run({"U1": [event("new")]}, set(), NOW)
    traits = dict(next(w for w in out.writes if w[0] == "put_traits")[1][1])
    assert traits["lifetime_spend"] == encode_trait(110.0) and traits["orders"] == encode_trait(2)
    assert [(c.segment, c.change) for c in out.changes] == [("high_value", "entered")]
    assert out.changes[0].cause["event_ids"] == ["new"]
    assert out.changes[0].cause["traits"]["lifetime_spend"] == [None, 110.0]


def test_a_replay_finds_the_membership_stored_and_changes_nothing() -> None:
    store = Store()
    store.updates["U1"] = [update("U1", "e1", "purchase", "web", 1, 150.0)]
    first = SegmentEngine(store, D, V).run({"U1": [event("e1")]}, set(), NOW)
    assert [c.change for c in first.changes] == ["entered"]
    again = SegmentEngine(store, D, V).run({"U1": [event("e1")]}, set(), NOW)
    assert again.changes[0].change_id == first.changes[0].change_id  # the same id on a replay of the send
    store.segments["U1"] = [Row(ucid="U1", segment="high_value", member=True, since=AFTER)]
    store.traits["U1"] = Row(ucid="U1", traits=dict(next(w for w in first.writes if w[0] == "put_traits")[1][1]),
                             batch_facts=None, batch_snapshot=None)
    replay = SegmentEngine(store, D, V).run({"U1": [event("e1")]}, set(), NOW)
    assert replay.changes == [] and replay.writes == []
    # a replay whose poll holds more of the customer's events still names the same change
    store.segments["U1"], store.traits = [], {}
    store.updates["U1"].append(update("U1", "e2", "page_view", "web", 0.5))
    bigger = SegmentEngine(store, D, V).run({"U1": [event("e1"), event("e2")]}, set(), NOW)
    assert [c.change_id for c in bigger.changes] == [first.changes[0].change_id]
    # leaving later is another change
    store.segments["U1"] = [Row(ucid="U1", segment="high_value", member=True, since=AFTER)]
    store.updates["U1"] = []
    gone = SegmentEngine(store, D, V).run({"U1": [event("e3")]}, set(), NOW)
    assert [c.change for c in gone.changes] == ["left"] and gone.changes[0].change_id != first.changes[0].change_id


def test_a_survivor_counts_its_aliases_events_and_the_merged_away_ucid_leaves() -> None:
    store = Store()
    store.ucids["U2"] = Row(ucid="U2", status="merged", merged_into="U1")
    store.ucids["U1"] = Row(ucid="U1", status="live", merged_into=None)
    store.changes["U1"] = [Row(ucid="U1", kind="merge", old_ucids={"U2"})]
    store.updates["U1"] = [update("U1", "a", "app_open", "app", 1)]
    store.updates["U2"] = [update("U2", "b", "purchase", "web", 2, 60.0), update("U2", "c", "purchase", "web", 1, 60.0)]
    store.segments["U2"] = [Row(ucid="U2", segment="app_first", member=True, since=SNAPSHOT)]
    out = SegmentEngine(store, D, V).run({"U2": [event("c")]}, {"U2"}, NOW)
    got = {(c.ucid, c.segment, c.change) for c in out.changes}
    assert got == {("U1", "high_value", "entered"), ("U2", "app_first", "left")}
    left = next(c for c in out.changes if c.ucid == "U2")
    assert left.cause == {"merged_into": "U1"}
    assert [w[1][:3] for w in out.writes if w[0] == "put_segment_member" and w[1][1] == "U2"] == [
        ("app_first", "U2", False)]
