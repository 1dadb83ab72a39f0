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
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
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


def evaluate(assignments: Mapping[RecordKey, str], truth: Mapping[RecordKey, str]) -> Metrics:
    """Compare a clustering (record -> ucid) with the truth (record -> person id)."""
    cells: Counter[tuple[str, str]] = Counter()
    missing_assign = missing_truth = 0
    for key, person in truth.items():
        ucid = assignments.get(key)
        if ucid is None:
            missing_assign += 1
            ucid = f"\x00missing:{key[0]}\x1f{key[1]}"  # own singleton, cannot clash with a real ucid
        cells[(ucid, person)] += 1
    for key, ucid in assignments.items():
        if key not in truth:
            missing_truth += 1
            cells[(ucid, f"\x00missing:{key[0]}\x1f{key[1]}")] += 1
    return metrics_from_cells(cells, missing_assign, missing_truth)


def metrics_from_cells(
    cells: Mapping[tuple[str, str], int], missing_from_assignments: int = 0, missing_from_truth: int = 0
) -> Metrics:
    """All figures from a contingency table ``{(ucid, person): records}``."""
    cluster_size: Counter[str] = Counter()
    person_size: Counter[str] = Counter()
    persons_per_cluster: Counter[str] = Counter()
    clusters_per_person: Counter[str] = Counter()
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
    big_cluster = max(cluster_size.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
    big_person = max(person_size.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
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
        largest_cluster_records=big_cluster[1],
        largest_cluster_ucid=_public(big_cluster[0]),
        largest_person_records=big_person[1],
        largest_person_id=_public(big_person[0]),
    )


def _public(label: str) -> str:
    return label.replace("\x00missing:", "<missing>").replace("\x1f", ":")


def read_labels(path: Path, label_column: str) -> dict[RecordKey, str]:
    """Read a ``source,record_id,<label_column>`` CSV; errors name the file and the problem."""
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
        out: dict[RecordKey, str] = {}
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= width:
                raise EvaluationInputError(f"{path}:{line_no}: expected {len(header)} fields, got {len(row)}")
            key = (row[i_src], row[i_rec])
            label = row[i_lab]
            if not key[0] or not key[1] or not label:
                raise EvaluationInputError(f"{path}:{line_no}: empty source, record_id or {label_column}")
            if key in out:
                raise EvaluationInputError(
                    f"{path}:{line_no}: duplicate record key source={key[0]!r} record_id={key[1]!r}"
                )
            out[key] = label
    return out


def evaluate_files(assignments: Path, truth: Path) -> Metrics:
    """Read both files (see ``read_labels``) and evaluate."""
    return evaluate(read_labels(assignments, "ucid"), read_labels(truth, "person_id"))


def labels_from_rows(rows: Iterable[tuple[str, str, str]]) -> dict[RecordKey, str]:
    """``{(source, record_id): label}`` from triples (a helper for tests and notebooks)."""
    return {(s, r): label for s, r, label in rows}
