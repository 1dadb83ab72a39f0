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

from identity.match import (
    ID_COLUMN,
    MatchSpec,
    MatchSpecError,
    ScoredPair,
    keeps_person_row,
    model_attributes,
    person_row,
)
from identity.match import person_sources as match_sources
from identity.records import Record, normalize_record
from identity.rules import Policy
from identity.sources import SourceDefinition
from identity.types import Identifier
from infra.match.decision import Scoring, decide_scored
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
    identifiers: list[tuple[Identifier, ...]] = field(default_factory=list)  # valid, unblocked, strongest first
    trust: dict[str, int] = field(default_factory=dict)  # source -> priority (1: the most trusted)

    def columns_with_values(self) -> list[str]:
        """Model columns holding at least one value (the others cannot be compared)."""
        return [c for c in self.table.column_names if c != ID_COLUMN and self.table.column(c).null_count < len(self.table)]


def person_sources(sources: Iterable[SourceDefinition], spec: MatchSpec) -> list[SourceDefinition]:
    """:func:`identity.match.person_sources`; an unknown source named by the spec is a read error."""
    try:
        return match_sources(sources, spec)
    except MatchSpecError as exc:
        raise LocalReadError(str(exc)) from exc


def read_person_rows(root: Path, sources: list[SourceDefinition], policy: Policy, spec: MatchSpec) -> PersonTable:
    """Every person row of ``root``, in (source, file, row) order; rows without a record id or
    with an empty required column are skipped, as :func:`ucid.local_resolve.read_records` does."""
    columns = spec.columns()
    out: dict[str, list] = {ID_COLUMN: [], **{c: [] for c in columns}}
    result = PersonTable(pa.table({}))
    for source in person_sources(sources, spec):
        result.trust[source.name] = source.priority
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
                if not keeps_person_row(source.kind, row):
                    continue  # an event without a name: not a person row (as in the batch)
                out[ID_COLUMN].append(len(result.keys))
                for c in columns:
                    out[c].append(row[c])
                result.keys.append((source.name, record_id))
                result.anchors.append(norm.anchor)
                result.identifiers.append(norm.identifiers)
                result.rows[source.name] += 1
    result.table = pa.table({ID_COLUMN: pa.array(out[ID_COLUMN], pa.int64()),
                             **{c: pa.array(out[c], pa.string()) for c in columns}})
    return result


# ------------------------------------------------------------------------------------------------
# scoring a landed data set with a trained model
# ------------------------------------------------------------------------------------------------
def score_people(people: PersonTable, model: TrainedModel, threads: int = 2) -> Scoring:
    """Score every blocked pair of person rows on DuckDB and decide each one
    (:func:`infra.match.decision.decide_scored`, the batch's decision too), including which
    records withhold a shared e-mail or phone from exact linking (``Scoring.withheld``)."""
    scored = score(people.table, model, 0.0, threads)
    return decide_scored(scored, people.keys, people.anchors, model, people.table.num_rows, len(scored),
                         people.identifiers, people.trust)


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
