"""Fixtures of the generator tests: one small generated data set, smaller chunks, the baseline.

Helpers are fixtures (not imports) so the tests work under any pytest import mode.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from ucid.generate import GenerateConfig, Summary, generate_dataset
from ucid.generate import noise as nz

REPO = Path(__file__).resolve().parents[3]
SEED = 11
CUSTOMERS = 2_500
DAYS = 14


@dataclass
class Dataset:
    root: Path
    stream: Path
    summary: Summary
    config: GenerateConfig

    def truth(self) -> list[tuple[str, str, str]]:
        with (self.root / "truth" / "truth.csv").open(newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["source", "record_id", "person_id"]
        return [(r[0], r[1], r[2]) for r in rows[1:]]


def _small_chunks(mp: pytest.MonkeyPatch, chunk: int = 1_000, per_part: int = 2) -> None:
    mp.setattr(nz, "CHUNK_SIZE", chunk)
    mp.setattr(nz, "CHUNKS_PER_PART", per_part)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``small_chunks(chunk, per_part)``: several chunks and part files even for tiny data sets."""
    return lambda chunk=1_000, per_part=2: _small_chunks(monkeypatch, chunk, per_part)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """2,500 customers over 14 days, seed 11, in 3 chunks and 2 part files, with a stream."""
    root = tmp_path_factory.mktemp("landing")
    stream = root / "stream" / "events.jsonl"
    config = GenerateConfig(customers=CUSTOMERS, seed=SEED, out=root, days=DAYS, stream=stream)
    with pytest.MonkeyPatch.context() as mp:
        _small_chunks(mp)
        summary = generate_dataset(config)
    return Dataset(root, stream, summary, config)


@pytest.fixture(scope="session")
def baseline() -> ModuleType:
    """The small reference resolver in ``baseline_resolver.py`` (loaded by path)."""
    path = Path(__file__).with_name("baseline_resolver.py")
    spec = importlib.util.spec_from_file_location("ucid_test_baseline_resolver", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
