"""The speed layer's side of erasure: events of erased people dropped before stitching.

Each poll, every valid event's identifiers are normalized by the identity core and hashed
(:func:`identity.suppression.record_hashes`, keyed with ``UCID_PRIVACY_SUPPRESSION_KEY``); the
poll's hashes are looked up in the ``suppression`` table (migration 011) with one round of ``IN``
reads (:meth:`infra.store.Store.many_in`). An event holding any of them is dropped: not stitched,
not written to a profile, not landed for the batch, not marked applied (a later replay is dropped
again). Read per poll rather than cached: an erasure is in force from the next poll on, with no
refresh window in which a replayed event could bring the person back; the cost is one read round
per poll, on single-partition keys.
"""

from __future__ import annotations

from typing import Any

from identity.rules import Policy
from identity.suppression import record_hashes


class SuppressionFilter:
    """Drops the events of erased people from a poll."""

    def __init__(self, store: Any, policy: Policy, key: bytes) -> None:
        self.store = store
        self.policy = policy
        self.key = key

    def keep(self, valid: list[tuple[Any, Any, Any]]) -> list[tuple[Any, Any, Any]]:
        """The ``(partition, message, event)`` triples whose event holds no suppressed identifier."""
        hashed = [record_hashes(self.key, ev.record(), self.policy) for _, _, ev in valid]
        found = {r.hash for r in self.store.many_in("get_suppression_in", [h for hs in hashed for h in hs])}
        if not found:
            return valid
        return [item for item, hs in zip(valid, hashed, strict=True) if not hs & found]
