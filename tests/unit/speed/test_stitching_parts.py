"""Pure parts of the speed layer's stitching: which leases an event needs, the identifier cache."""

from __future__ import annotations

from identity.records import NormalizedRecord
from identity.stitch import StitchView, UcidView
from speed.stitching import _Cache, _lease_names, _View


def test_leases_cover_every_ucid_of_the_view_and_every_new_identifier_in_sorted_order() -> None:
    norm = NormalizedRecord("stream", "E1", (("crm_id", "C1"), ("email", "a@x.io"), ("cookie_id", "k")),
                            ("crm_id", "C1"))
    view = _View(StitchView({("email", "a@x.io"): "U2"}, {"U2": UcidView(1, {"email": 1})}), {"U2": []})
    assert _lease_names(norm, view) == ["i:cookie_id:k", "i:crm_id:C1", "u:U2"]


def test_cache_entries_expire_and_the_size_is_bounded() -> None:
    cache = _Cache(size=2, ttl_s=5)
    cache.put(("email", "a"), "U1", now=0)
    cache.put(("email", "b"), "U2", now=1)
    assert cache.get(("email", "a"), now=4) == "U1"
    assert cache.get(("email", "a"), now=6) is None  # expired: a merge elsewhere is seen
    cache.put(("email", "c"), "U3", now=2)
    assert len(cache.data) == 2 and cache.get(("email", "a"), now=3) is None  # evicted, oldest first
