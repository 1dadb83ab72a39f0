"""The speed layer's suppression filter: a poll's events of erased people dropped, in one read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from identity.rules import load_policy
from identity.suppression import hashes
from speed.contract import Event
from speed.suppression import SuppressionFilter

RULES = Path(__file__).resolve().parents[3] / "conf" / "rules.yaml"
KEY = b"k"


class FakeStore:
    """``many_in`` over a suppression set; records the reads."""

    def __init__(self, listed: set[str]) -> None:
        self.listed = listed
        self.reads: list[tuple[str, list[str]]] = []

    def many_in(self, name: str, keys) -> list:
        keys = list(keys)
        self.reads.append((name, keys))
        return [SimpleNamespace(hash=k) for k in dict.fromkeys(keys) if k in self.listed]


def _event(n: int, **identifiers: str) -> Event:
    return Event(f"e{n}", "login", "2026-01-01T00:00:00Z", 0, "web", "web", identifiers, {})


def test_events_with_an_erased_identifier_in_any_spelling_are_dropped_in_one_read():
    store = FakeStore(hashes(KEY, [("email", "ann@x.com")]))
    drop = SuppressionFilter(store, load_policy(RULES), KEY)
    poll = [("tp", "m1", _event(1, email="Ann@X.com", cookie_id="c1")), ("tp", "m2", _event(2, email="bob@x.com")),
            ("tp", "m3", _event(3, email=" ANN@x.com ")), ("tp", "m4", _event(4, cookie_id="c9"))]
    kept = drop.keep(poll)
    assert [ev.event_id for _, _, ev in kept] == ["e2", "e4"]
    assert [name for name, _ in store.reads] == ["get_suppression_in"]


def test_nothing_on_the_list_keeps_the_poll_as_it_is():
    drop = SuppressionFilter(FakeStore(set()), load_policy(RULES), KEY)
    poll = [("tp", "m1", _event(1, email="ann@x.com"))]
    assert drop.keep(poll) == poll
