"""Real-time stitching: the identity core's :func:`~identity.stitch.stitch`, applied safely by
many consumer processes at once, a poll of events at a time.

Per poll (:meth:`Stitcher.stitch_batch`; :meth:`Stitcher.stitch_event` is a poll of one):

1. **Cache**: an event whose identifiers are all cached on one UCID changes nothing: done.
2. **Read** the graph around the other events' identifiers in a few rounds of ``IN`` reads
   (:func:`speed.graph.read_graph`: identifiers, where their UCIDs lead with the identity
   core's :func:`~identity.aliases.follow_steps`, the members and ``minted_at`` of each live
   UCID) and decide each event with :func:`~identity.stitch.stitch` (same normalization,
   limits, blocked values, priorities and minting as the batch layer). An event with nothing
   to change (every identifier known, one UCID) that touches nothing an earlier event of the
   poll changes is done: no lease, no write.
3. Otherwise **lease** what the changing events touch -- every UCID of their views and every
   new identifier, each lease name hashed into one of ``lease_buckets`` buckets
   (``speed_locks``, one ``INSERT ... IF NOT EXISTS USING TTL`` per bucket, all at once, all
   or none) -- **re-read** the graph under the leases and decide those events again, in
   order, each on the graph the previous ones left (:meth:`speed.graph.Graph.apply`); if the
   graph now names a UCID or new identifier whose bucket is not leased, release and start over.
4. **Write** each group of events that touch each other as one LOGGED batch (mints, claims,
   memberships, merge status, aliases, change log, links): all of a group applies or none, so a
   crash never leaves half a decision behind, nor a decision without the one it rests on; a
   merge re-points the loser's identifiers to the survivor in the same batch, so a resolve
   answers from one row. Then release the leases.

Why this is safe: every change to the set of identifiers of a UCID, and every claim of a new
identifier, happens under a lease on it (its bucket's), after a fresh read. Two processes
linking the same identifiers serialize on the shared lease; the second one reads the first
one's result and attaches or merges instead of minting. So an identifier is never claimed twice,
limits are checked against the current membership, and a merge never loses a concurrent attach.
A lease outlives a crashed holder by at most ``lock_ttl_s``; a holder that took longer than half
the lease to get to its write gives up and retries (fencing against its own expiry). Fewer
buckets, fewer lightweight transactions per poll (``lease_buckets`` 0: one lease per name, as
fine as it gets); more buckets, fewer processes waiting on each other.

Idempotency: minting is content addressed (same seed -> same UCID, skipping issued ones), each
group is all-or-nothing and re-reading after a crash sees either nothing or the whole group, so
re-stitching an event whose decision was written finds nothing to change.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from identity.records import NormalizedRecord, normalize_record
from identity.rules import Policy
from identity.match import MatchEvidence
from identity.stitch import StitchDecision, link_ucids, stitch
from identity.types import Identifier
from infra.store import Store, ts
from infra.store.sync import BATCH_BYTES
from speed.contract import Event
from speed.graph import Graph, View, read_graph


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
class _Done:
    """A plan's answer when nothing needs a lease."""

    result: Any


class _Cache:
    """Bounded map identifier -> (canonical UCID, expiry). Entries expire so that a merge made by
    another process is seen within ``ttl_s``; an identifier never becomes unknown again."""

    def __init__(self, size: int, ttl_s: float = 5.0) -> None:
        self.size, self.ttl_s = size, ttl_s
        self.data: OrderedDict[Identifier, tuple[str, float]] = OrderedDict()
        self.lock = threading.Lock()  # the consumer's threads share the cache

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
        lease_buckets: int = 0,
    ) -> None:
        self.store, self.policy = store, policy
        self.lock_ttl_s, self.timeout_s = lock_ttl_s, timeout_s
        self.lease_buckets = lease_buckets
        self.owner = uuid.uuid4().hex
        self.cache = _Cache(cache_size)
        self.clock = clock
        self._local = threading.local()

    # -- public ----------------------------------------------------------------------------
    def stitch_event(self, event: Event) -> Outcome:
        """Apply one event's identity effects (a poll of one)."""
        return self.stitch_batch([event])[0]

    def stitch_batch(self, events: Sequence[Event]) -> list[Outcome]:
        """Apply a poll's identity effects, in the given order (each partition's events in offset
        order); one outcome per event. See the module docstring for the promises."""
        outcomes: list[Outcome | None] = [None] * len(events)
        norms: list[NormalizedRecord] = []
        pending: list[int] = []
        for i, event in enumerate(events):
            norm, _rejected = normalize_record(event.record(), self.policy)
            norms.append(norm)
            if not norm.identifiers:
                outcomes[i] = Outcome("unidentified", None)
                continue
            fast = self._fast_path(norm)
            if fast is not None:
                outcomes[i] = Outcome("unchanged", fast)
                continue
            pending.append(i)
        if not pending:
            return outcomes  # type: ignore[return-value]

        todo: list[int] = []

        def plan(contended: int) -> list[str] | _Done:
            # optimistic read without leases: most events need no change; this pass only tells
            # which events must change the graph and what to lease for them
            graph = read_graph(self.store, (i for k in pending for i in norms[k].identifiers), issued=False)
            todo.clear()
            names: set[str] = set()
            dirty: set[Any] = set()
            for k in pending:
                view = graph.view(norms[k])
                touched = set(norms[k].identifiers) | set(view.view.ucids)
                decision = stitch(norms[k], view.view, self.policy)
                if _trivial(decision) and not touched & dirty:
                    self._remember(norms[k], decision, view)
                    outcomes[k] = Outcome("unchanged", decision.ucid, len(decision.refused), (), contended)
                    continue
                todo.append(k)
                dirty |= touched
                names.update(_lease_names(norms[k], view))
            if not todo:
                return _Done(outcomes)
            return self._buckets(names)

        def write(names: list[str], started: float) -> list[Outcome] | None:
            return self._decide_and_write([events[k] for k in todo], [norms[k] for k in todo], names, started)

        decided = self._under_leases(events[pending[0]].event_id, plan, write)
        if isinstance(decided, list) and decided is not outcomes:
            for k, outcome in zip(todo, decided, strict=True):
                outcomes[k] = outcome
        return outcomes  # type: ignore[return-value]

    def _buckets(self, names: set[str]) -> list[str]:
        """The leases standing for ``names``: each name itself, or its bucket (sorted: one global
        order)."""
        if self.lease_buckets <= 0:
            return sorted(names)
        return sorted({f"b:{zlib.crc32(n.encode()) % self.lease_buckets}" for n in names})

    def _under_leases(self, what: str, plan: Callable[[int], list[str] | _Done],
                      write: Callable[[list[str], float], Any | None]) -> Any:
        """The lease loop of every identity change: ``plan`` (given the retries so far) reads
        without leases and answers either :class:`_Done` (nothing to change) or the leases to
        take; with all of them held, ``write`` re-reads, decides and writes (``None``: the graph
        moved, plan again). Leases are released in the background and waited for before this
        thread's next change; busy leases are retried with a growing random pause until
        ``timeout_s``."""
        deadline = time.monotonic() + self.timeout_s
        contended = 0
        self._settle_unlocks()
        while True:
            names = plan(contended)
            if isinstance(names, _Done):
                return names.result
            started = time.monotonic()
            if self.store.lock_all(names, self.owner, self.lock_ttl_s):
                try:
                    result = write(names, started)
                finally:
                    self._pending_unlocks().extend(self.store.unlock(names, self.owner, wait=False))
                if result is not None:
                    for outcome in result if isinstance(result, list) else [result]:
                        outcome.contended = contended
                    return result
            contended += 1
            if time.monotonic() > deadline:
                raise StitchTimeout(f"{what}: identity leases busy for {self.timeout_s}s")
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
        write as :meth:`stitch_batch`, the decision :func:`~identity.stitch.link_ucids` (model
        limits, size guard, ``apart``: a conflict between the two live UCIDs). ``record`` is the
        new record that caused the edge (the link's evidence). Outcome ``merge`` (``merged``
        names loser -> survivor), ``unchanged`` (already one customer), or ``refused``."""

        def plan(contended: int) -> list[str] | _Done:
            graph = read_graph(self.store, (a, b), issued=False)
            ua, ub = graph.ucid_of.get(a), graph.ucid_of.get(b)
            if ua is None or ub is None or ua == ub:
                return _Done(Outcome("unchanged", ua or ub, contended=contended))
            return self._buckets({f"u:{ua}", f"u:{ub}"})

        return self._under_leases(event.event_id, plan, lambda names, started: self._link_locked(
            a, b, names, started, evidence, record, event, limits, apart))

    def _link_locked(self, a: Identifier, b: Identifier, names: list[str], started: float,
                     evidence: MatchEvidence, record: tuple[str, str], event: Event, limits: dict[str, int],
                     apart: Callable[[str, str], bool]) -> Outcome | None:
        graph = read_graph(self.store, (a, b))
        ua, ub = graph.ucid_of.get(a), graph.ucid_of.get(b)
        if ua is None or ub is None or ua == ub:
            return Outcome("unchanged", ua or ub)
        if not set(self._buckets({f"u:{ua}", f"u:{ub}"})) <= set(names):
            return None  # merged by someone else between our read and our leases
        views = graph.view(_pair_record(a, b)).view.ucids
        decision = link_ucids(ua, ub, views, self.policy, limits, apart(ua, ub))
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
        for t, v in graph.members.get(loser, []):
            out.append(("member", (survivor, t, v, "merge", seen, seen)))
            out.append(("repoint", (survivor, [loser], t, v)))
        out.append(("change", (survivor, now_ts, change_id, "merge", {loser}, rule,
                               json.dumps([[list(a), list(b), record[0], record[1]]]))))
        out.append(("link_match", (survivor, link_id, a[0], a[1], b[0], b[1], rule, record[0], record[1], seen,
                                   match_json(evidence))))
        self.store.atomic(out)
        when = self.clock()
        for ident in graph.members.get(loser, []):
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

    def _decide_and_write(self, events: list[Event], norms: list[NormalizedRecord], names: list[str],
                          started: float) -> list[Outcome] | None:
        """Under the leases ``names``: re-read, decide each event on the graph the previous ones
        left, write the decisions (one LOGGED batch per group of events touching each other).
        None if the graph moved out of the leases or the leases may be about to expire."""
        graph = read_graph(self.store, (i for n in norms for i in n.identifiers),
                           mint_seeds=(i for n in norms for i in n.identifiers))
        held = set(names)
        now = int(self.clock() * 1000)
        outcomes: list[Outcome] = []
        decided: list[tuple[NormalizedRecord, StitchDecision, View, list[tuple[str, tuple]]]] = []
        for norm in norms:  # every lease needed on the graph as stored is held
            if not set(self._buckets(set(_lease_names(norm, graph.view(norm))))) <= held:
                return None  # someone changed the picture between our read and our leases
        for event, norm in zip(events, norms, strict=True):
            view = graph.view(norm)
            decision = stitch(norm, view.view, self.policy)
            if _trivial(decision):
                outcomes.append(Outcome("unchanged", decision.ucid, len(decision.refused)))
                decided.append((norm, decision, view, []))
                continue
            decided.append((norm, decision, view, self._writes(decision, view, event)))
            graph.apply(decision, now)
            outcomes.append(Outcome(decision.kind, decision.ucid, len(decision.refused), decision.aliases))
        if time.monotonic() - started > self.lock_ttl_s / 2:
            return None  # our leases may be about to expire: do not write, start over
        # each event's writes at a time of its own, later in poll order: two events of the poll
        # writing one cell (a claim, then the merge re-pointing it) leave the later one's value
        base = int(time.time() * 1_000_000)
        self.store.atomic_many(_groups(decided, base))
        while time.time() * 1_000_000 <= base + len(decided):
            time.sleep(0.0005)  # the next holder of these leases writes later than every time used here
        for norm, _, _, _ in decided:
            self._remember_final(norm, graph)
        return outcomes

    def _writes(self, d: StitchDecision, view: View, event: Event) -> list[tuple[str, tuple]]:
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

    def _remember(self, norm: NormalizedRecord, d: StitchDecision, view: View) -> None:
        now = self.clock()
        final = dict(d.assign)
        alias_of = dict(d.aliases)
        for ident in norm.identifiers:
            u = final.get(ident) or view.view.ucid_of.get(ident)
            if u is not None:
                self.cache.put(ident, alias_of.get(u, u), now)

    def _remember_final(self, norm: NormalizedRecord, graph: Graph) -> None:
        """Cache the record's identifiers where the whole poll left them."""
        now = self.clock()
        for ident in norm.identifiers:
            u = graph.ucid_of.get(ident)
            if u is not None:
                self.cache.put(ident, u, now)


def _trivial(d: StitchDecision) -> bool:
    return not (d.assign or d.aliases or d.minted)


def _lease_names(norm: NormalizedRecord, view: View) -> list[str]:
    """Leases to hold while changing this record's identity: every UCID of the view and every
    identifier of the record not yet known (sorted: a global order, no deadlock)."""
    names = {f"u:{u}" for u in view.view.ucids}
    names |= {f"i:{t}:{v}" for t, v in norm.identifiers if (t, v) not in view.view.ucid_of}
    return sorted(names)


def _pair_record(a: Identifier, b: Identifier) -> NormalizedRecord:
    return NormalizedRecord("model", "pair", (a, b), a)


def _groups(decided: list[tuple[NormalizedRecord, StitchDecision, View, list[tuple[str, tuple]]]],
            base_us: int) -> list[list[tuple[str, tuple, int]]]:
    """The writes of a poll's decisions as LOGGED batches of ``(statement, args, write time)``:
    the n-th event's writes at ``base_us + n`` microseconds; the events that touch each other (an
    identifier, a UCID) in one batch, so no decision is written without the one it rests on;
    unrelated small groups packed together up to about :data:`BATCH_BYTES` of values."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    keys: list[Any] = []
    for n, (norm, decision, view, writes) in enumerate(decided):
        if not writes:
            keys.append(None)
            continue
        touched = [("e", n), *norm.identifiers, *view.view.ucids, decision.ucid, *decision.minted]
        root = find(touched[0])
        for item in touched[1:]:
            other = find(item)
            if other != root:
                parent[other] = root
        keys.append(("e", n))
    groups: dict[Any, list[tuple[str, tuple, int]]] = {}
    for n, (key, (_, _, _, writes)) in enumerate(zip(keys, decided, strict=True)):
        if key is not None:
            groups.setdefault(find(key), []).extend((name, args, base_us + n) for name, args in writes)
    batches: list[list[tuple[str, tuple, int]]] = []
    current: list[tuple[str, tuple, int]] = []
    size = 0
    for writes in groups.values():
        n = sum(_size(args) for _, args, _ in writes)
        if current and size + n > BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
        current = current + writes
        size += n
    if current:
        batches.append(current)
    return batches


def _size(args: tuple) -> int:
    return sum(len(v) if isinstance(v, str) else 8 for v in args if v is not None)


def match_json(evidence: MatchEvidence) -> str:
    """A model link's evidence as the batch publishes it (``links_by_ucid.match``: the JSON of
    the gold ``match`` struct), which ``/v1/explain`` reads."""
    return json.dumps({"rule": evidence.rule, "model": evidence.model, "probability": evidence.probability,
                       "weight": evidence.weight,
                       "levels": [{"comparison": lv.comparison, "level": lv.level, "label": lv.label,
                                   "weight": lv.weight} for lv in evidence.levels]}, separators=(",", ":"))
