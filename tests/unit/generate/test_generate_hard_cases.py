"""``--hard-cases``: store registrations and traps added, every other file unchanged."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from ucid.generate import GenerateConfig, generate_dataset


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_hard_cases_add_store_rows_and_change_no_other_file(tmp_path: Path) -> None:
    off, on = tmp_path / "off", tmp_path / "on"
    generate_dataset(GenerateConfig(customers=1500, seed=3, out=off, days=4))
    summary = generate_dataset(GenerateConfig(customers=1500, seed=3, out=on, days=4, hard_cases=True))
    before, after = _digests(off), _digests(on)
    changed = {f for f in before if before[f] != after.get(f)}
    assert changed == {"truth/truth.csv", "manifest.json"}
    added = set(after) - set(before)
    assert added and all(f.startswith("store/") for f in added)
    with (on / "truth" / "truth.csv").open(newline="") as fh:
        truth = list(csv.DictReader(fh))
    with (off / "truth" / "truth.csv").open(newline="") as fh:
        old = {(r["source"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    assert {(r["source"], r["record_id"]): r["person_id"] for r in truth if r["source"] != "store"} == old
    store = [r for r in truth if r["source"] == "store"]
    assert len(store) == summary.records["store"] > 0
    customers = [r for r in store if r["person_id"].startswith("P")]
    traps = [r for r in store if r["person_id"].startswith("T")]
    assert customers and len(traps) < len(customers)
    # store customers are people the other sources know; trap persons appear nowhere else
    known = set(old.values())
    assert all(r["person_id"] in known for r in customers)
    assert not any(r["person_id"] in known for r in traps)
