"""Pure parts of the speed layer's stitching: which leases an event needs, the identifier cache."""

from __future__ import annotations

from identity.records import NormalizedRecord
from identity.stitch import StitchView, UcidView
from speed.graph import View as _View
from speed.stitching import _Cache, _lease_names


def test_leases_cover_every_ucid_of_the_view_and_every_new_identifier_in_sorted_order() -> None:
    norm = NormalizedRecord("stream", "E1", (("crm_id", "C1"), ("email", "ann.lee@mail-x.io"), ("cookie_id", "k")),
                            ("crm_id", "C1"))
    view = _View(StitchView({("email", "ann.lee@mail-x.io"): "U2"}, {"U2": UcidView(1, {"email": 1})}), {"U2": []})
    assert _lease_names(norm, view) == ["i:cookie_id:k", "i:crm_id:C1", "u:U2"]


def test_cache_entries_expire_and_the_size_is_bounded() -> None:
    cache = _Cache(size=2, ttl_s=5)
    cache.put(("email", "a"), "U1", now=0)
    cache.put(("email", "b"), "U2", now=1)
    assert cache.get(("email", "a"), now=4) == "U1"
    assert cache.get(("email", "a"), now=6) is None  # expired: a merge elsewhere is seen
    cache.put(("email", "c"), "U3", now=2)
    assert len(cache.data) == 2 and cache.get(("email", "a"), now=3) is None  # evicted, oldest first


def _graph():
    from speed.graph import Graph

    return Graph({("email", "ann.lee@mail-x.io"): "U1", ("crm_id", "C2"): "U2"},
                 {("email", "ann.lee@mail-x.io"): "U1", ("crm_id", "C2"): "U2"},
                 {"U1": [("email", "ann.lee@mail-x.io")], "U2": [("crm_id", "C2")]}, {"U1": 1, "U2": 2}, frozenset())


def test_the_graph_takes_a_decision_in_as_a_read_after_its_write_would_see_it() -> None:
    from identity.rules import load_policy
    from identity.records import Record, normalize_record
    from identity.stitch import stitch
    from infra.settings import get_settings

    policy = load_policy(get_settings().conf_dir / "rules.yaml")
    graph = _graph()
    first, _ = normalize_record(Record("stream", "E1", (("email", "ann.lee@mail-x.io"), ("crm_id", "C2"), ("cookie_id", "k1"))),
                                policy)
    decision = stitch(first, graph.view(first).view, policy)
    assert decision.kind == "merge" and decision.aliases == (("U2", "U1"),)
    graph.apply(decision, now_ms=5)
    assert graph.ucid_of[("crm_id", "C2")] == "U1" and graph.ucid_of[("cookie_id", "k1")] == "U1"
    assert "U2" not in graph.members and sorted(graph.members["U1"]) == sorted(first.identifiers)
    again = stitch(first, graph.view(first).view, policy)
    assert again.kind == "unchanged" and again.ucid == "U1"  # re-stitching the same event changes nothing


def test_lease_buckets_are_stable_across_processes_and_cover_every_name() -> None:
    from speed.stitching import Stitcher

    fine = Stitcher.__new__(Stitcher)
    fine.lease_buckets = 0
    coarse = Stitcher.__new__(Stitcher)
    coarse.lease_buckets = 16
    names = {"u:U1", "i:email:ann.lee@mail-x.io", "i:crm_id:C2"}
    assert fine._buckets(names) == sorted(names)
    got = coarse._buckets(names)
    assert got == sorted(got) and 1 <= len(got) <= 3 and all(b.startswith("b:") and 0 <= int(b[2:]) < 16 for b in got)
    assert coarse._buckets({"i:crm_id:C2"}) == ["b:3"]  # crc32, not Python's salted hash: the same in every process


def test_decisions_that_touch_each_other_are_written_in_one_logged_batch_in_order() -> None:
    from identity.records import NormalizedRecord
    from identity.stitch import StitchDecision
    from speed.stitching import _groups

    def record(n: int, *ids: tuple[str, str]) -> NormalizedRecord:
        return NormalizedRecord("stream", f"E{n}", ids, ids[0])

    def decided(n: int, ucid: str, ids: tuple[tuple[str, str], ...], minted: tuple[str, ...] = ()):
        d = StitchDecision("new" if minted else "attach", ucid, tuple((i, ucid) for i in ids), (), minted, (), ())
        return record(n, *ids), d, _View(StitchView({}, {}), {}), [("claim", (i[0], i[1], ucid)) for i in ids]

    big = "x" * 2000  # over BATCH_BYTES: unrelated decisions are not packed with it
    rows = [decided(1, "U9", (("email", "ann.lee@mail-x.io"),), ("U9",)),
            decided(2, "U8", (("email", big),), ("U8",)),
            decided(3, "U9", (("email", "ann.lee@mail-x.io"), ("cookie_id", "k")))]  # rests on the mint of event 1
    groups = _groups(rows, base_us=1000)
    first = next(g for g in groups if ("claim", ("email", "ann.lee@mail-x.io", "U9"), 1000) in g)
    assert ("claim", ("cookie_id", "k", "U9"), 1002) in first  # with the decision it rests on
    assert ("claim", ("email", "ann.lee@mail-x.io", "U9"), 1002) in first  # the later event's write is later
    assert not any(w[1] == ("email", big, "U8") for g in groups if g is first for w in g)
    assert sum(len(g) for g in groups) == 4
