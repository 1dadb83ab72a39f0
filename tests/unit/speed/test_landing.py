"""Landing files: complete or absent, each offset landed once across replays and restarts."""

from __future__ import annotations

import json
from pathlib import Path

from speed.landing import LandingWriter, landed_up_to


def rows(offsets):
    return [(o, "2026-01-01" if o < 5 else "2026-01-02", {"event_id": f"E{o}"}) for o in offsets]


def read_all(root: Path) -> list[str]:
    return [json.loads(line)["event_id"] for p in sorted(root.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def test_files_are_named_by_partition_and_offsets_and_hold_each_offset_once(tmp_path: Path) -> None:
    w = LandingWriter(tmp_path)
    first = w.write(3, rows(range(0, 4)))
    assert first == tmp_path / "2026-01-01" / "part-p3-0-3.jsonl"
    assert w.write(3, rows(range(2, 8))).name == "part-p3-4-7.jsonl"  # 2, 3 skipped
    assert w.write(3, rows(range(0, 8))) is None  # a replay writes nothing
    assert read_all(tmp_path) == [f"E{o}" for o in range(8)]
    assert not list(tmp_path.rglob(".*.tmp"))


def test_a_restarted_writer_knows_what_was_landed_from_the_file_names(tmp_path: Path) -> None:
    LandingWriter(tmp_path).write(0, rows(range(0, 6)))
    LandingWriter(tmp_path).write(1, rows(range(0, 2)))
    assert landed_up_to(tmp_path, 0) == 5 and landed_up_to(tmp_path, 1) == 1 and landed_up_to(tmp_path, 2) == -1
    again = LandingWriter(tmp_path)
    assert again.write(0, rows(range(3, 9))).name == "part-p0-6-8.jsonl"
    assert sorted(read_all(tmp_path)) == sorted([f"E{o}" for o in range(9)] + ["E0", "E1"])


def test_a_crash_before_the_rename_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    import os

    w = LandingWriter(tmp_path)

    def boom(*_):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    try:
        w.write(0, rows(range(0, 3)))
    except OSError:
        pass
    monkeypatch.undo()
    assert landed_up_to(tmp_path, 0) == -1
    w2 = LandingWriter(tmp_path)
    assert w2.write(0, rows(range(0, 3))).name == "part-p0-0-2.jsonl"
