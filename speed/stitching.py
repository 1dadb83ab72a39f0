"""Real-time stitching: the identity core's :func:`~identity.stitch.stitch`, applied safely by
many consumer processes at once.

Per event (:meth:`Stitcher.stitch_event`):

1. **Read** the event's identifiers in ``identifiers``, follow merged UCIDs to live ones (the
   identity core's :func:`~identity.aliases.follow`), and read each one's identifiers (``identifiers_by_ucid``, for
   the per-type limits) and ``minted_at``: a :class:`~identity.stitch.StitchView`.
2. **Decide** with :func:`~identity.stitch.stitch` (same normalization, limits, blocked values,
   priorities and minting as the batch layer). Nothing to change (the common case: every
   identifier already known, one UCID) -> done, no lock, no write.
3. Otherwise **lease** every UCID of the view and every new identifier (``speed_locks``, one
   ``INSERT ... IF NOT EXISTS USING TTL`` each, in sorted order, all or none), **re-read** the
   view under the leases and decide again; if the view now names a UCID or new identifier that
   is not leased, release and start over.
4. **Write** the decision as one LOGGED batch (mints, claims, memberships, merge status,
   aliases, change log, links): all of it applies or none, so a crash never leaves a half
   decision behind; a merge re-points the loser's identifiers to the survivor in the same batch,
   so a resolve answers from one row. Then release the leases.

Why this is safe: every change to the set of identifiers of a UCID, and every claim of a new
identifier, happens under a lease on it, after a fresh read. Two processes linking the same
identifiers serialize on the shared lease; the second one reads the first one's result and
attaches or merges instead of minting. So an identifier is never claimed twice, limits are
checked against the current membership, and a merge never loses a concurrent attach. A lease
outlives a crashed holder by at most ``lock_ttl_s``; a holder that took longer than half the
lease to get to its write gives up and retries (fencing against its own expiry).

Idempotency: minting is content addressed (same seed -> same UCID, skipping issued ones), the
batch is all-or-nothing and re-reading after a crash sees either nothing or the whole decision,
so re-stitching an event whose decision was written finds nothing to change.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from identity.records import NormalizedRecord, normalize_record
from identity.rules import Policy
from identity.match import MatchEvidence
from identity.stitch import StitchDecision, StitchView, UcidView, link_ucids, stitch
from identity.types import Identifier
from infra.store import Store, ts
from speed.contract import Event


class StitchTimeout(RuntimeError):
    """The identity leases of an event could not be taken in time (Cassandra trouble, or a
    stuck holder): the batch is not committed and will be retried."""


@dataclass(slots=True)
class Outcome:
    """What stitching did: ``kind`` is new / attach / merge / unchanged / unidentified;
    ``ucid`` the event's customer (None if unidentified); ``refused`` links refused by a limit;
    ``merged`` the UCIDs merged away (loser -> survivor)."""

    kind: str
    ucid: str | None
    refused: int = 0
    merged: tuple[tuple[str, str], ...] = ()
    contended: int = 0


@dataclass(slots=True)
class _View:
    view: StitchView
    members: dict[str, list[Identifier]]
    raw: dict[Identifier, str] = field(default_factory=dict)  # identifier -> ucid in the index


class _Issued:
    """``issued`` container for minting: a UCID is issued if it has a ``ucids`` row."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, ucid: object) -> bool:
        return self.store.one("get_ucid", ucid) is not None


class _Cache:
    """Bounded map identifier -> (canonical UCID, expiry). Entries expire so that a merge made by
    another process is seen within ``ttl_s``; an identifier never becomes unknown again."""

    def __init__(self, size: int, ttl_s: float = 5.0) -> None:
        self.size, self.ttl_s = size, ttl_s
        self.data: OrderedDict[Identifier, tuple[str, float]] = OrderedDict()
        self.lock = threading.Lock()  # consumer threads (one per partition) share the cache

    def get(self, key: Identifier, now: float) -> str | None:
        hit = self.data.get(key)
        if hit is None or hit[1] < now:
            return None
        return hit[0]

    def put(self, key: Identifier, ucid: str, now: float) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.data[key] = (ucid, now + self.ttl_s)
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class Stitcher:
    """Applies events' identity effects to Cassandra; one per consumer process."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        lock_ttl_s: int = 5,
        timeout_s: float = 30.0,
        cache_size: int = 500_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.policy = store, policy
        self.lock_ttl_s, self.timeout_s = lock_ttl_s, timeout_s
        self.owner = uuid.uuid4().hex
        self.cache = _Cache(cache_size)
        self.clock = clock
        self.issued = _Issued(store)
        self._local = threading.local()

    # -- public ----------------------------------------------------------------------------
    def stitch_event(self, event: Event) -> Outcome:
        """Apply one event's identity effects; see the module docstring for the promises."""
        norm, _rejected = normalize_record(event.record(), self.policy)
        if not norm.identifiers:
            return Outcome("unidentified", None)
        fast = self._fast_path(norm)
        if fast is not None:
            return Outcome("unchanged", fast)

        def plan(contended: int) -> list[str] | Outcome:
            # optimistic read without leases: most events need no change; this decision only
            # tells whether to lease and what (minting does not need the issued check here)
            view = self._read_view(norm.identifiers, issued=False)
            decision = stitch(norm, view.view, self.policy)
            if _trivial(decision):
                self._remember(norm, decision, view)
                return Outcome("unchanged", decision.ucid, len(decision.refused), (), contended)
            return _lease_names(norm, view)

        return self._under_leases(event, plan, lambda names, started: self._decide_and_write(norm, event, names,
                                                                                              started))

    def _under_leases(self, event: Event, plan: Callable[[int], list[str] | Outcome],
                      write: Callable[[list[str], float], Outcome | None]) -> Outcome:
        """The lease loop of every identity change: ``plan`` (given the retries so far) reads
        without leases and answers either an outcome (nothing to change) or the lease names;
        with all of them held, ``write`` re-reads, decides and writes (``None``: the graph moved,
        plan again). Leases are released in the background and waited for before this thread's
        next change; busy leases are retried with a growing random pause until ``timeout_s``."""
        deadline = time.monotonic() + self.timeout_s
        contended = 0
        self._settle_unlocks()
        while True:
            names = plan(contended)
            if isinstance(names, Outcome):
                return names
            started = time.monotonic()
            if self.store.lock(names, self.owner, self.lock_ttl_s):
                try:
                    result = write(names, started)
                finally:
                    self._pending_unlocks().extend(self.store.unlock(names, self.owner, wait=False))
                if result is not None:
                    result.contended = contended
                    return result
            contended += 1
            if time.monotonic() > deadline:
                raise StitchTimeout(f"event {event.event_id}: identity leases busy for {self.timeout_s}s")
            time.sleep(random.uniform(0.001, 0.005) * min(contended, 20))

    def _pending_unlocks(self) -> list:
        pending = getattr(self._local, "unlocks", None)
        if pending is None:
            pending = self._local.unlocks = []
        return pending

    def _settle_unlocks(self) -> None:
        """Wait for this thread's background lease releases (errors are logged by the driver;
        an unreleased lease expires with its TTL)."""
        pending = self._pending_unlocks()
        for future in pending:
            try:
                future.result()
            except Exception:  # noqa: BLE001 -- the lease expires by itself
                pass
        pending.clear()

    def link_model(self, a: Identifier, b: Identifier, evidence: MatchEvidence, record: tuple[str, str],
                   event: Event, limits: dict[str, int], apart: Callable[[str, str], bool]) -> Outcome:
        """Apply one model edge between the clusters of anchors ``a`` and ``b`` (the speed layer's
        real-time match, :mod:`speed.matching`): the same leases, re-read and all-or-nothing
        write as :meth:`stitch_event`, the decision :func:`~identity.stitch.link_ucids` (model
        limits, size guard, ``apart``: a conflict between the two live UCIDs). ``record`` is the
        new record that caused the edge (the link's evidence). Outcome ``merge`` (``merged``
        names loser -> survivor), ``unchanged`` (already one customer), or ``refused``."""

        def plan(contended: int) -> list[str] | Outcome:
            view = self._read_view((a, b), issued=False)
            ua, ub = view.view.ucid_of.get(a), view.view.ucid_of.get(b)
            if ua is None or ub is None or ua == ub:
                return Outcome("unchanged", ua or ub, contended=contended)
            return sorted({f"u:{ua}", f"u:{ub}"})

        return self._under_leases(event, plan, lambda names, started: self._link_locked(
            a, b, names, started, evidence, record, event, limits, apart))

    def _link_locked(self, a: Identifier, b: Identifier, names: list[str], started: float,
                     evidence: MatchEvidence, record: tuple[str, str], event: Event, limits: dict[str, int],
                     apart: Callable[[str, str], bool]) -> Outcome | None:
        view = self._read_view((a, b))
        ua, ub = view.view.ucid_of.get(a), view.view.ucid_of.get(b)
        if ua is None or ub is None or ua == ub:
            return Outcome("unchanged", ua or ub)
        if sorted({f"u:{ua}", f"u:{ub}"}) != names:
            return None  # merged by someone else between our read and our leases
        decision = link_ucids(ua, ub, view.view.ucids, self.policy, limits, apart(ua, ub))
        if decision.refused is not None:
            return Outcome("refused", ua, refused=1)
        if time.monotonic() - started > self.lock_ttl_s / 2:
            return None
        survivor, loser = decision.survivor, decision.loser
        now = int(self.clock() * 1000)
        now_ts, seen = ts(now), ts(event.time_ms)
        link_id = hashlib.sha1(f"{a}\x1f{b}".encode()).hexdigest()[:20]
        change_id = f"{event.event_id}:model:{link_id}"
        rule = evidence.rule
        out: list[tuple[str, tuple]] = [("merged", (survivor, now_ts, loser)),
                                        ("alias", (loser, survivor, now_ts, rule, change_id))]
        for t, v in view.members.get(loser, []):
            out.append(("member", (survivor, t, v, "merge", seen, seen)))
            out.append(("repoint", (survivor, [loser], t, v)))
        out.append(("change", (survivor, now_ts, change_id, "merge", {loser}, rule,
                               json.dumps([[list(a), list(b), record[0], record[1]]]))))
        out.append(("link_match", (survivor, link_id, a[0], a[1], b[0], b[1], rule, record[0], record[1], seen,
                                   match_json(evidence))))
        self.store.atomic(out)
        when = self.clock()
        for ident in view.members.get(loser, []):
            self.cache.put(ident, survivor, when)
        return Outcome("merge", survivor, merged=((loser, survivor),))

    # -- steps -----------------------------------------------------------------------------
    def _fast_path(self, norm: NormalizedRecord) -> str | None:
        """The UCID if every identifier is cached on one UCID (nothing to change), else None."""
        now = self.clock()
        first = None
        for ident in norm.identifiers:
            ucid = self.cache.get(ident, now)
            if ucid is None or (first is not None and ucid != first):
                return None
            first = ucid
        return first

    def _decide_and_write(
        self, norm: NormalizedRecord, event: Event, names: list[str], started: float
    ) -> Outcome | None:
        view = self._read_view(norm.identifiers)
        if set(_lease_names(norm, view)) - set(names):
            return None  # someone changed the picture between our read and our leases
        decision = stitch(norm, view.view, self.policy)
        if _trivial(decision):
            self._remember(norm, decision, view)
            return Outcome("unchanged", decision.ucid, len(decision.refused))
        if time.monotonic() - started > self.lock_ttl_s / 2:
            return None  # our leases may be about to expire: do not write, start over
        writes = self._writes(decision, view, event)
        self.store.atomic(writes)
        self._remember(norm, decision, view)
        return Outcome(decision.kind, decision.ucid, len(decision.refused), decision.aliases)

    def _read_view(self, identifiers: tuple[Identifier, ...], issued: bool = True) -> _View:
        store = self.store
        rows = store.many("get_identifier", [i for i in identifiers])
        raw = {i: r[0].ucid for i, r in zip(identifiers, rows) if r}
        canonical: dict[str, str | None] = {}
        minted: dict[str, int] = {}
        for ucid in set(raw.values()):
            followed = store.follow(ucid)  # the identity core's semantics, as every layer
            canonical[ucid] = followed.ucid
            if followed.ucid is not None:
                minted[followed.ucid] = (followed.record.minted_at if followed.record else None) or 0
        # an identifier whose UCID leads to no live customer (retired, or a broken chain) is
        # held by nobody: the decision claims it again
        ucid_of = {i: canonical[u] for i, u in raw.items() if canonical[u] is not None}
        lives = sorted(set(ucid_of.values()))
        member_rows = store.many("get_members", [(u,) for u in lives])
        members: dict[str, list[Identifier]] = {}
        ucids: dict[str, UcidView] = {}
        for u, rows_u in zip(lives, member_rows):
            ids = [(r.id_type, r.id_value) for r in rows_u]
            # identifiers pointing at u (or its aliases) whose member row is missing still count
            ids.extend(i for i, c in ucid_of.items() if c == u and i not in set(ids))
            members[u] = ids
            counts: dict[str, int] = {}
            for t, _ in ids:
                counts[t] = counts.get(t, 0) + 1
            ucids[u] = UcidView(minted[u], counts)
        return _View(StitchView(ucid_of, ucids, self.issued if issued else frozenset()), members, raw)

    def _writes(self, d: StitchDecision, view: _View, event: Event) -> list[tuple[str, tuple]]:
        now = int(self.clock() * 1000)
        now_ts, seen = ts(now), ts(event.time_ms)
        out: list[tuple[str, tuple]] = []
        for u in d.minted:  # rule 1: the ucids row before any identifier pointing at it
            out.append(("mint", (u, now_ts, now_ts)))
            out.append(("change", (u, now_ts, f"{event.event_id}:mint", "mint", set(), "new identifiers", "")))
        for (t, v), u in d.assign:
            out.append(("claim", (t, v, u, event.source, seen, seen)))
            out.append(("member", (u, t, v, event.source, seen, seen)))
        if d.aliases:
            rule = ",".join(sorted({link.rule for link in d.evidence})) or "merge"
            change_id = f"{event.event_id}:merge"
            survivors: dict[str, set[str]] = {}
            for loser, survivor in d.aliases:
                out.append(("merged", (survivor, now_ts, loser)))
                out.append(("alias", (loser, survivor, now_ts, rule, change_id)))
                for t, v in view.members.get(loser, []):
                    out.append(("member", (survivor, t, v, "merge", seen, seen)))
                    # a resolve reads one row: the loser's identifiers now lead to the survivor
                    out.append(("repoint", (survivor, [loser], t, v)))
                survivors.setdefault(survivor, set()).add(loser)
            evidence = json.dumps([[list(k.a), list(k.b), k.source, k.record_id] for k in d.evidence])
            for survivor, losers in survivors.items():
                out.append(("change", (survivor, now_ts, change_id, "merge", losers, rule, evidence)))
        final = dict(d.assign)
        alias_of = dict(d.aliases)
        for link in d.evidence:
            owner = final.get(link.a) or alias_of.get(view.view.ucid_of[link.a], view.view.ucid_of[link.a])
            link_id = hashlib.sha1(f"{link.a}\x1f{link.b}".encode()).hexdigest()[:20]
            out.append(("link", (owner, link_id, link.a[0], link.a[1], link.b[0], link.b[1], link.rule,
                                 link.source, link.record_id, seen)))
        return out

    def _remember(self, norm: NormalizedRecord, d: StitchDecision, view: _View) -> None:
        now = self.clock()
        final = dict(d.assign)
        alias_of = dict(d.aliases)
        for ident in norm.identifiers:
            u = final.get(ident) or view.view.ucid_of.get(ident)
            if u is not None:
                self.cache.put(ident, alias_of.get(u, u), now)


def _trivial(d: StitchDecision) -> bool:
    return not (d.assign or d.aliases or d.minted)


def _lease_names(norm: NormalizedRecord, view: _View) -> list[str]:
    """Leases to hold while changing this record's identity: every UCID of the view and every
    identifier of the record not yet known (sorted: a global order, no deadlock)."""
    names = {f"u:{u}" for u in view.view.ucids}
    names |= {f"i:{t}:{v}" for t, v in norm.identifiers if (t, v) not in view.view.ucid_of}
    return sorted(names)


def match_json(evidence: MatchEvidence) -> str:
    """A model link's evidence as the batch publishes it (``links_by_ucid.match``: the JSON of
    the gold ``match`` struct), which ``/v1/explain`` reads."""
    return json.dumps({"rule": evidence.rule, "model": evidence.model, "probability": evidence.probability,
                       "weight": evidence.weight,
                       "levels": [{"comparison": lv.comparison, "level": lv.level, "label": lv.label,
                                   "weight": lv.weight} for lv in evidence.levels]}, separators=(",", ":"))
