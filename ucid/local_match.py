"""The match model's input from a landed data set: one person row per profile record.

Reads the sources that carry person attributes (those declaring a name attribute, or the spec's
``sources``) with the same file layout and readers as :mod:`ucid.local_resolve`, normalizes each
record's identifiers with the rules (so blocked and invalid values are never model evidence),
and turns its attributes into the model's columns with :func:`identity.match.person_row`.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from identity.cluster import Edge
from identity.match import (
    ID_COLUMN,
    NAME_ATTRIBUTES,
    MatchEvidence,
    MatchSpec,
    ScoredPair,
    conflict_pairs,
    decide_pairs,
    match_edges,
    vetoed,
    model_attributes,
    person_row,
)
from identity.records import Record, normalize_record
from identity.rules import Policy
from identity.sources import SourceDefinition
from identity.types import Identifier
from infra.match.model import TrainedModel
from infra.match.predict import Scored, score
from ucid.local_resolve import LocalReadError, read_columns, source_files


@dataclass(slots=True)
class PersonTable:
    """Row ``i`` of ``table`` (``unique_id == i``) is record ``keys[i]`` anchored at ``anchors[i]``."""

    table: pa.Table
    keys: list[tuple[str, str]] = field(default_factory=list)
    anchors: list[Identifier] = field(default_factory=list)
    rows: Counter = field(default_factory=Counter)  # source -> person rows

    def columns_with_values(self) -> list[str]:
        """Model columns holding at least one value (the others cannot be compared)."""
        return [c for c in self.table.column_names if c != ID_COLUMN and self.table.column(c).null_count < len(self.table)]


def person_sources(sources: Iterable[SourceDefinition], spec: MatchSpec) -> list[SourceDefinition]:
    """The sources the model compares: the spec's list, or every source declaring a name."""
    sources = list(sources)
    if spec.sources is not None:
        known = {s.name for s in sources}
        unknown = sorted(set(spec.sources) - known)
        if unknown:
            raise LocalReadError(f"match spec names unknown source(s): {', '.join(unknown)}")
        return [s for s in sources if s.name in spec.sources]
    return [s for s in sources if any(a in s.attributes for a in NAME_ATTRIBUTES)]


def read_person_rows(root: Path, sources: list[SourceDefinition], policy: Policy, spec: MatchSpec) -> PersonTable:
    """Every person row of ``root``, in (source, file, row) order; rows without a record id or
    with an empty required column are skipped, as :func:`ucid.local_resolve.read_records` does."""
    columns = spec.columns()
    out: dict[str, list] = {ID_COLUMN: [], **{c: [] for c in columns}}
    result = PersonTable(pa.table({}))
    for source in person_sources(sources, spec):
        attrs = model_attributes(source.attributes, columns)
        attr_cols = [source.attributes[a] for a in attrs]
        id_cols = [c.column for c in source.identifiers]
        needed = list(dict.fromkeys([source.record_id, *id_cols, *attr_cols, *source.required]))
        types = [c.type for c in source.identifiers]
        for path in source_files(root, source):
            data = read_columns(path, source, needed)
            required = [data[c] for c in source.required if c != source.record_id]
            for i, record_id in enumerate(data[source.record_id]):
                if not record_id or not record_id.strip() or any(not col[i] for col in required):
                    continue
                record = Record(source.name, record_id, tuple(zip(types, (data[c][i] for c in id_cols))))
                norm, _ = normalize_record(record, policy)
                values = {a: data[c][i] for a, c in zip(attrs, attr_cols)}
                row = person_row(values, norm.identifiers, columns)
                out[ID_COLUMN].append(len(result.keys))
                for c in columns:
                    out[c].append(row[c])
                result.keys.append((source.name, record_id))
                result.anchors.append(norm.anchor)
                result.rows[source.name] += 1
    result.table = pa.table({ID_COLUMN: pa.array(out[ID_COLUMN], pa.int64()),
                             **{c: pa.array(out[c], pa.string()) for c in columns}})
    return result


# ------------------------------------------------------------------------------------------------
# scoring a landed data set with a trained model
# ------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Scoring:
    """What the model made of a data set: the edges it links, the pairs it leaves for review."""

    edges: list[Edge]
    linked: list[ScoredPair]
    review: list[tuple[ScoredPair, Scored]]
    stats: dict[str, int]
    limits: dict[str, int] = field(default_factory=dict)  # the model's limits for its edges
    conflicts: list[tuple[Identifier, Identifier]] = field(default_factory=list)


def score_people(people: PersonTable, model: TrainedModel, threads: int = 2) -> Scoring:
    """Score every blocked pair of person rows and decide each one (:func:`identity.match.decide`).

    Every blocked pair counts for the conflicts, whatever its probability: two members of one
    household (same last name and address, other first name) score low and are exactly the
    evidence that keeps a record mixed into one of their clusters by an exact link (a shared
    family e-mail) from pulling the other's cluster in.
    """
    spec = model.spec
    scored = score(people.table, model, 0.0, threads)
    kept: list[Scored] = []
    every: list[ScoredPair] = []
    for s in scored:
        if s.probability < spec.review_threshold and not vetoed(s.levels, spec):
            continue
        kept.append(s)
        every.append(ScoredPair(
            people.keys[s.left], people.keys[s.right], people.anchors[s.left], people.anchors[s.right],
            MatchEvidence(spec.rule, model.version, s.probability, round(s.weight, 4), s.levels),
        ))
    decisions = decide_pairs(every, spec)
    linked = [p for p, d in zip(every, decisions, strict=True) if d == "link"]
    review = [(p, s) for p, s, d in zip(every, kept, decisions, strict=True) if d == "review"]
    edges = match_edges(linked, spec)
    conflicts = conflict_pairs(every, spec)
    stats = {"person_rows": people.table.num_rows, "pairs_blocked": len(scored),
             "pairs_scored_above_review": sum(1 for s in scored if s.probability >= spec.review_threshold),
             "pairs_linked": len(linked),
             "pairs_review": len(review), "model_edges": len(edges), "model_conflicts": len(conflicts)}
    return Scoring(edges, linked, review, stats, dict(spec.limits), conflicts)


PAIR_HEADER = ("source_l", "record_id_l", "source_r", "record_id_r", "match_probability", "match_weight", "levels")


def write_pairs(path: Path, pairs: Iterable[tuple[ScoredPair, Scored | None]]) -> int:
    """Scored pairs as CSV: both records, probability, weight, then each comparison as
    ``column=level label (weight) [left | right]`` when the values are known."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(PAIR_HEADER)
        for pair, s in pairs:
            values = {c: (lv, rv) for c, lv, rv in s.values} if s is not None else {}
            levels = "; ".join(
                f"{lvl.comparison}={lvl.label} ({lvl.weight:+.2f})"
                + (f" [{values[lvl.comparison][0]} | {values[lvl.comparison][1]}]" if lvl.comparison in values else "")
                for lvl in pair.evidence.levels
            )
            writer.writerow((*pair.left, *pair.right, f"{pair.evidence.probability:.6f}",
                             f"{pair.evidence.weight:.4f}", levels))
            n += 1
    tmp.replace(path)
    return n


def read_pair_keys(path: Path) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The record pairs of a file written by :func:`write_pairs`."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return [((r["source_l"], r["record_id_l"]), (r["source_r"], r["record_id_r"])) for r in reader]
