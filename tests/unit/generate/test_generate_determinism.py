"""Same seed and size: byte-identical output (every file, stream included); no wall clock."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
from ucid.generate import GenerateConfig, generate_dataset


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(root: Path, seed: int, customers: int = 700) -> dict[str, str]:
    generate_dataset(GenerateConfig(customers=customers, seed=seed, out=root, days=6,
                                    stream=root / "stream.jsonl"))
    return _digests(root)


def test_same_seed_gives_byte_identical_files(tmp_path: Path, small_chunks) -> None:  # type: ignore[no-untyped-def]
    small_chunks(chunk=300, per_part=2)  # 3 chunks, 2 parts: exercises every seam
    first = _run(tmp_path / "a", seed=5)
    second = _run(tmp_path / "b", seed=5)
    assert len(first) > 50
    assert first == second


def test_other_seed_gives_other_data(tmp_path: Path, small_chunks) -> None:  # type: ignore[no-untyped-def]
    small_chunks(chunk=300, per_part=2)
    a = _run(tmp_path / "a", seed=5)
    b = _run(tmp_path / "b", seed=6)
    assert a["truth/truth.csv"] != b["truth/truth.csv"]
    assert a["stream.jsonl"] != b["stream.jsonl"]


def test_chunks_do_not_depend_on_the_total_size(tmp_path: Path, small_chunks) -> None:  # type: ignore[no-untyped-def]
    """Chunk k is a function of (seed, k): a bigger run starts with the same people."""
    small_chunks(chunk=300, per_part=100)
    _run(tmp_path / "small", seed=9, customers=300)
    _run(tmp_path / "big", seed=9, customers=600)
    small = (tmp_path / "small" / "truth" / "truth.csv").read_text().splitlines()
    big = (tmp_path / "big" / "truth" / "truth.csv").read_text().splitlines()
    assert big[: len(small)] == small


def test_no_wall_clock_in_the_generator() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "ucid" / "generate").glob("*.py"))
    for forbidden in ("datetime.now", "date.today", "time.time", "utcnow", "perf_counter"):
        assert forbidden not in source, forbidden


def test_refuses_to_mix_with_earlier_output(tmp_path: Path, small_chunks) -> None:  # type: ignore[no-untyped-def]
    from ucid.generate import GenerateError

    small_chunks(chunk=300)
    _run(tmp_path, seed=1, customers=50)
    with pytest.raises(GenerateError, match="--overwrite"):
        _run(tmp_path, seed=1, customers=50)
    generate_dataset(GenerateConfig(customers=50, seed=1, out=tmp_path, days=6, overwrite=True))
    assert (tmp_path / "truth" / "truth.csv").exists()


def test_output_does_not_depend_on_the_number_of_workers(tmp_path: Path, small_chunks) -> None:  # type: ignore[no-untyped-def]
    small_chunks(chunk=200, per_part=2)  # 4 chunks over 2 worker processes, 2 parts
    config = dict(customers=800, seed=21, days=5)
    generate_dataset(GenerateConfig(out=tmp_path / "one", stream=tmp_path / "one" / "s.jsonl", **config))
    generate_dataset(GenerateConfig(out=tmp_path / "two", stream=tmp_path / "two" / "s.jsonl", **config), workers=2)
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")
