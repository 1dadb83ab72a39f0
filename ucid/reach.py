"""What any deterministic rule could reach, and how big the clusters are in identifiers.

Missing recall has two kinds. Two records of one person that share no identifier value, and are
not joined by a chain of the person's *own* records sharing values (an anonymous cookie that
never logged in, a second CRM registration under a new e-mail), cannot be linked by any rule
that links records on equal normalized identifiers, whatever its limits: that part is
*unreachable*. The rest was reachable and was not linked, because a per-type limit or the size
guard refused a link: the price paid for precision.

The ceiling is generous on purpose: a chain may go through any valid value the person's records
share, over-limit ones included (a phone shared with a household), as if an oracle knew which
shared values to trust. Blocked junk values (``test@test.com``) are never identifiers, and a
chain never goes through another person's records (that link would be wrong). So
``pairwise_recall_ceiling`` bounds every rule set linking on equal normalized identifiers.

Pure Python; memory is a few dicts over the records (about 300 bytes a record).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from identity.cluster import LimitedUnionFind
from identity.records import Record, normalize_record
from identity.rules import Policy
from identity.types import Identifier

RecordKey = tuple[str, str]
RECORD = "_record"  # the node type of a record in the union-find (no limit applies)


@dataclass(frozen=True)
class Reach:
    """Pairs are unordered pairs of records of one true person."""

    records: int
    records_read: int
    true_pairs: int
    reachable_pairs: int
    found_pairs: int
    found_reachable_pairs: int
    missed_pairs: int
    missed_unreachable_pairs: int
    missed_reachable_pairs: int
    pairwise_recall_ceiling: float
    bcubed_recall_ceiling: float
    largest_cluster_identifiers: int
    largest_cluster_identifiers_ucid: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def reach(
    records: Iterable[Record],
    policy: Policy,
    truth: Mapping[RecordKey, str],
    assignments: Mapping[RecordKey, str],
    extra_pairs: Iterable[tuple[RecordKey, RecordKey]] = (),
) -> Reach:
    """Split the missed true pairs of ``assignments`` into unreachable and reachable ones.

    Only records in ``truth`` count (as in :func:`ucid.evaluate.evaluate`); a truth record that
    is not among ``records`` (skipped when read) has no identifiers, and one without a UCID is
    its own cluster. Identifiers per UCID count the distinct valid values of its records.

    ``extra_pairs`` (the record pairs a match model scored at or above its review floor) also
    join two records of one person: the ceiling then bounds exact rules *plus* that model at
    any threshold down to the floor.
    """
    forest = LimitedUnionFind({})  # no limits: plain union-find over record indices
    index: dict[RecordKey, int] = {}
    first: dict[tuple[str, Identifier], int] = {}
    identifiers: dict[str, set[Identifier]] = {}
    read = 0
    for record in records:
        key = (record.source, record.record_id)
        person = truth.get(key)
        if person is None or key in index:
            continue
        i = index[key] = forest.add(RECORD)
        read += 1
        norm, _ = normalize_record(record, policy)
        ucid = assignments.get(key)
        for ident in norm.identifiers:
            j = first.setdefault((person, ident), i)
            if j != i:
                forest.union(i, j)
            if ucid is not None:
                identifiers.setdefault(ucid, set()).add(ident)
    for key in truth:
        if key not in index:
            index[key] = forest.add(RECORD)
    for a, b in extra_pairs:
        if a in index and b in index and truth[a] == truth[b]:
            forest.union(index[a], index[b])

    person_size: Counter[str] = Counter(truth.values())
    component: Counter[int] = Counter()
    component_person: dict[int, str] = {}
    found: Counter[tuple[int, str]] = Counter()
    cells: Counter[tuple[str, str]] = Counter()
    for key, person in truth.items():
        root = forest.find(index[key])
        component[root] += 1
        component_person[root] = person
        ucid = assignments.get(key) or f"<missing>{key}"
        found[(root, ucid)] += 1
        cells[(ucid, person)] += 1

    records_n = len(truth)
    true_pairs = sum(_pairs(n) for n in person_size.values())
    reachable = sum(_pairs(n) for n in component.values())
    found_pairs = sum(_pairs(n) for n in cells.values())
    found_reachable = sum(_pairs(n) for n in found.values())
    missed = true_pairs - found_pairs
    # a found pair outside any reachable component was linked through another person's record
    missed_reachable = reachable - found_reachable
    b3 = sum(n * n / person_size[component_person[c]] for c, n in component.items())
    big = max(identifiers.items(), key=lambda kv: (len(kv[1]), kv[0]), default=("", set()))
    return Reach(
        records=records_n,
        records_read=read,
        true_pairs=true_pairs,
        reachable_pairs=reachable,
        found_pairs=found_pairs,
        found_reachable_pairs=found_reachable,
        missed_pairs=missed,
        missed_unreachable_pairs=missed - missed_reachable,
        missed_reachable_pairs=missed_reachable,
        pairwise_recall_ceiling=reachable / true_pairs if true_pairs else 1.0,
        bcubed_recall_ceiling=b3 / records_n if records_n else 1.0,
        largest_cluster_identifiers=len(big[1]),
        largest_cluster_identifiers_ucid=big[0],
    )
