"""A deliberately small deterministic resolver, used only to show the generated data is resolvable.

It is NOT ucid's resolver (that lives in ``identity/``). It reads the landing files through the
source YAMLs, normalizes identifiers (trim/lower e-mails, E.164 phones via phonenumbers region US,
upper-case ids), drops the documented junk values, and unions records that share an identifier,
strongest identifier types first, refusing any merge that would put two crm_ids in one cluster.
A weak identifier (phone, device, cookie) whose records already sit in clusters of two different
crm_ids is treated as shared (a household landline, a family tablet, a recycled number) and not
used at all.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import phonenumbers
import pyarrow.parquet as pq

from identity.sources import SourceDefinition, load_sources
from ucid.generate import noise

ORDER = ("crm_id", "billing_account", "loyalty_id", "email", "phone", "device_id", "cookie_id")
WEAK = {"phone", "device_id", "cookie_id"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_BLOCKED_EMAILS = {e.strip().lower() for e in noise.JUNK_EMAILS}


def normalize(kind: str, value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if kind == "email":
        text = text.lower()
        return text if _EMAIL.match(text) and text not in _BLOCKED_EMAILS else None
    if kind == "phone":
        try:
            num = phonenumbers.parse(text, "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(num):
            return None
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    if kind in ("cookie_id", "device_id"):
        return text.lower()
    return text.replace(" ", "").upper()


def read_rows(landing: Path, source: SourceDefinition):  # type: ignore[no-untyped-def]
    folder = landing / source.location
    for path in sorted(folder.glob(f"*/part-*.{source.format}")):
        if source.format == "csv":
            with path.open(newline="", encoding="utf-8") as fh:
                yield from csv.DictReader(fh)
        elif source.format == "jsonl":
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    yield json.loads(line)
        else:
            cols = sorted({source.record_id, *(c.column for c in source.identifiers)})
            yield from pq.read_table(path, columns=cols).to_pylist()


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.crm: list[str | None] = []  # the one crm_id of a root's cluster, if any

    def add(self, crm: str | None) -> int:
        self.parent.append(len(self.parent))
        self.crm.append(crm)
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, limit: bool) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ca, cb = self.crm[ra], self.crm[rb]
        if limit and ca and cb and ca != cb:
            return
        self.parent[rb] = ra
        self.crm[ra] = ca or cb


def resolve(landing: Path, sources_dir: Path) -> dict[tuple[str, str], str]:
    """``{(source, record_id): cluster label}`` for every record of every source."""
    keys: list[tuple[str, str]] = []
    uf = _UnionFind()
    by_value: dict[str, dict[str, list[int]]] = {t: defaultdict(list) for t in ORDER}
    for source in load_sources(sources_dir):
        for row in read_rows(landing, source):
            ids = [(c.type, normalize(c.type, row.get(c.column))) for c in source.identifiers]
            crm = next((v for t, v in ids if t == "crm_id" and v), None)
            i = uf.add(crm)
            keys.append((source.name, str(row[source.record_id])))
            for t, v in ids:
                if v:
                    by_value[t][v].append(i)
    for t in ORDER:
        for records in by_value[t].values():
            if t in WEAK and len({c for r in records if (c := uf.crm[uf.find(r)])}) > 1:
                continue
            for other in records[1:]:
                uf.union(records[0], other, limit=t != "crm_id")
    return {k: f"u{uf.find(i)}" for i, k in enumerate(keys)}
