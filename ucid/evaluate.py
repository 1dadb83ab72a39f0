"""Clustering quality of an identity resolution against a ground truth (pure, stdlib only).

Both sides map record keys ``(source, record_id)`` to a label: the resolver's UCID, the truth's
person id. Every figure comes from the contingency table (count of records per (UCID, person)
cell), never from enumerating pairs, so a few million records evaluate in seconds.

Conventions:
- pairwise precision = correctly co-clustered pairs / predicted pairs; recall = / true pairs;
  a ratio with an empty denominator is 1.0 (nothing predicted wrongly / nothing to find).
- B-cubed (Bagga & Baldwin 1998): per-record precision |C ∩ T| / |C| and recall |C ∩ T| / |T|,
  averaged over records.
- a record present on one side only is its own singleton on the other side (a unique label), so
  it can only lower the figures; the counts of such records are reported separately.

Memory: ``evaluate_files`` keeps one dict over the truth's record keys (labels interned to ints)
and streams the assignments: about 150 bytes per record (≈ 3 GB for 20 M records).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

RecordKey = tuple[str, str]

ASSIGNMENT_COLUMNS = ("source", "record_id", "ucid")
TRUTH_COLUMNS = ("source", "record_id", "person_id")


class EvaluationInputError(ValueError):
    """An input file is missing, malformed, or holds the same record twice."""


@dataclass(frozen=True)
class Metrics:
    records: int
    records_missing_from_assignments: int
    records_missing_from_truth: int
    true_persons: int
    ucids: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    persons_split: int
    ucids_merging_persons: int
    most_persons_in_one_ucid: int
    largest_multi_person_cluster_records: int
    largest_cluster_records: int
    largest_cluster_ucid: str
    largest_person_records: int
    largest_person_id: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _ratio(num: float, den: float) -> float:
    return num / den if den else 1.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


class _Accumulator:
    """Builds the contingency table from truth rows, then assignment rows, with one dict of keys.

    Labels are interned to ints; a truth key's value turns negative once an assignment has been
    seen for it, which catches duplicate assignment rows without a second set of keys.
    """

    def __init__(self) -> None:
        self.truth: dict[str, int] = {}
        self.persons: dict[str, int] = {}
        self.ucids: dict[str, int] = {}
        self.person_names: list[str] = []
        self.ucid_names: list[str] = []
        self.cells: Counter[tuple[int, int]] = Counter()
        self.extra: set[str] = set()
        self.missing_from_assignments = 0
        self.missing_from_truth = 0

    @staticmethod
    def _intern(label: str, table: dict[str, int], names: list[str]) -> int:
        i = table.get(label)
        if i is None:
            i = table[label] = len(names)
            names.append(label)
        return i

    def add_truth(self, key: str, person: str, where: str = "truth") -> None:
        if key in self.truth:
            raise EvaluationInputError(f"{where}: duplicate record key {_show(key)}")
        self.truth[key] = self._intern(person, self.persons, self.person_names)

    def add_assignment(self, key: str, ucid: str, where: str = "assignments") -> None:
        u = self._intern(ucid, self.ucids, self.ucid_names)
        p = self.truth.get(key)
        if p is None:
            if key in self.extra:
                raise EvaluationInputError(f"{where}: duplicate record key {_show(key)}")
            self.extra.add(key)
            self.missing_from_truth += 1
            p = len(self.person_names)  # the record is its own person
            self.person_names.append(f"<missing>{_show(key)}")
        elif p < 0:
            raise EvaluationInputError(f"{where}: duplicate record key {_show(key)}")
        else:
            self.truth[key] = -1 - p
        self.cells[(u, p)] += 1

    def finish(self) -> Metrics:
        for key, p in self.truth.items():
            if p >= 0:  # in the truth, never assigned: its own cluster
                self.missing_from_assignments += 1
                u = len(self.ucid_names)
                self.ucid_names.append(f"<missing>{_show(key)}")
                self.cells[(u, p)] += 1
        m = metrics_from_cells(self.cells, self.missing_from_assignments, self.missing_from_truth)
        return replace(
            m,
            largest_cluster_ucid=self.ucid_names[int(m.largest_cluster_ucid)] if m.records else "",
            largest_person_id=self.person_names[int(m.largest_person_id)] if m.records else "",
        )


def _key(source: str, record_id: str) -> str:
    return f"{source}\x1f{record_id}"


def _show(key: str) -> str:
    source, _, record_id = key.partition("\x1f")
    return f"source={source!r} record_id={record_id!r}"


def evaluate(assignments: Mapping[RecordKey, str], truth: Mapping[RecordKey, str]) -> Metrics:
    """Compare a clustering (record -> ucid) with the truth (record -> person id)."""
    acc = _Accumulator()
    for (source, record_id), person in truth.items():
        acc.add_truth(_key(source, record_id), person)
    for (source, record_id), ucid in assignments.items():
        acc.add_assignment(_key(source, record_id), ucid)
    return acc.finish()


def metrics_from_cells(
    cells: Mapping[tuple[Hashable, Hashable], int], missing_from_assignments: int = 0, missing_from_truth: int = 0
) -> Metrics:
    """All figures from a contingency table ``{(ucid, person): records}``; labels any hashable.

    The largest cluster / person is reported by ``str(label)``; ties go to the first label seen.
    """
    cluster_size: Counter[Hashable] = Counter()
    person_size: Counter[Hashable] = Counter()
    persons_per_cluster: Counter[Hashable] = Counter()
    clusters_per_person: Counter[Hashable] = Counter()
    correct = 0
    b3_p_sum = b3_r_sum = 0.0
    for (ucid, person), n in cells.items():
        cluster_size[ucid] += n
        person_size[person] += n
        persons_per_cluster[ucid] += 1
        clusters_per_person[person] += 1
        correct += _pairs(n)
    for (ucid, person), n in cells.items():
        b3_p_sum += n * n / cluster_size[ucid]
        b3_r_sum += n * n / person_size[person]
    records = sum(cluster_size.values())
    predicted = sum(_pairs(n) for n in cluster_size.values())
    true = sum(_pairs(n) for n in person_size.values())
    pp, pr = _ratio(correct, predicted), _ratio(correct, true)
    bp, br = _ratio(b3_p_sum, records), _ratio(b3_r_sum, records)
    big_cluster = max(cluster_size.items(), key=lambda kv: kv[1], default=("", 0))
    big_person = max(person_size.items(), key=lambda kv: kv[1], default=("", 0))
    return Metrics(
        records=records,
        records_missing_from_assignments=missing_from_assignments,
        records_missing_from_truth=missing_from_truth,
        true_persons=len(person_size),
        ucids=len(cluster_size),
        pairwise_precision=pp,
        pairwise_recall=pr,
        pairwise_f1=_f1(pp, pr),
        true_pairs=true,
        predicted_pairs=predicted,
        correct_pairs=correct,
        bcubed_precision=bp,
        bcubed_recall=br,
        bcubed_f1=_f1(bp, br),
        persons_split=sum(1 for k in clusters_per_person.values() if k > 1),
        ucids_merging_persons=sum(1 for k in persons_per_cluster.values() if k > 1),
        most_persons_in_one_ucid=max(persons_per_cluster.values(), default=0),
        largest_multi_person_cluster_records=max(
            (n for u, n in cluster_size.items() if persons_per_cluster[u] > 1), default=0
        ),
        largest_cluster_records=big_cluster[1],
        largest_cluster_ucid=str(big_cluster[0]),
        largest_person_records=big_person[1],
        largest_person_id=str(big_person[0]),
    )


def _rows(path: Path, label_column: str) -> Iterator[tuple[str, str, str]]:
    """(key, label, "file:line") of a ``source,record_id,<label_column>`` CSV, validated."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise EvaluationInputError(f"{path}: cannot read: {exc.strerror}") from exc
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise EvaluationInputError(f"{path}: empty file (expected a header source,record_id,{label_column})")
        header = [h.strip() for h in header]
        want = ("source", "record_id", label_column)
        missing = [c for c in want if c not in header]
        if missing:
            raise EvaluationInputError(
                f"{path}: missing column(s) {', '.join(missing)}; header is {','.join(header)}"
            )
        i_src, i_rec, i_lab = (header.index(c) for c in want)
        width = max(i_src, i_rec, i_lab)
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= width:
                raise EvaluationInputError(f"{path}:{line_no}: expected {len(header)} fields, got {len(row)}")
            source, record_id, label = row[i_src], row[i_rec], row[i_lab]
            if not source or not record_id or not label:
                raise EvaluationInputError(f"{path}:{line_no}: empty source, record_id or {label_column}")
            yield _key(source, record_id), label, f"{path}:{line_no}"


def read_labels(path: Path, label_column: str) -> dict[RecordKey, str]:
    """Read a ``source,record_id,<label_column>`` CSV into a dict; errors name file and line."""
    out: dict[RecordKey, str] = {}
    for key, label, where in _rows(path, label_column):
        source, _, record_id = key.partition("\x1f")
        if (source, record_id) in out:
            raise EvaluationInputError(f"{where}: duplicate record key {_show(key)}")
        out[(source, record_id)] = label
    return out


def evaluate_files(assignments: Path, truth: Path) -> Metrics:
    """Evaluate two CSV files, streaming the assignments (memory: one dict over the truth keys)."""
    acc = _Accumulator()
    for key, person, where in _rows(truth, "person_id"):
        acc.add_truth(key, person, where)
    for key, ucid, where in _rows(assignments, "ucid"):
        acc.add_assignment(key, ucid, where)
    return acc.finish()


def labels_from_rows(rows: Iterable[tuple[str, str, str]]) -> dict[RecordKey, str]:
    """``{(source, record_id): label}`` from triples (a helper for tests and notebooks)."""
    return {(s, r): label for s, r, label in rows}
