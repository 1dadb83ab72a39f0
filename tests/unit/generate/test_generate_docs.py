"""docs/data-generator.md lists every rate of ucid/generate/noise.py, with its value."""

from __future__ import annotations

import re
from pathlib import Path

from ucid.generate import noise as nz

REPO = Path(__file__).resolve().parents[3]


def _constants() -> list[str]:
    return [n for n in vars(nz) if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)]


def test_every_rate_is_documented() -> None:
    doc = (REPO / "docs" / "data-generator.md").read_text(encoding="utf-8")
    missing = [n for n in _constants() if f"`{n}`" not in doc]
    assert not missing, f"not in docs/data-generator.md: {missing}"


def test_documented_scalar_values_match_the_code() -> None:
    doc = (REPO / "docs" / "data-generator.md").read_text(encoding="utf-8")
    for name in _constants():
        value = getattr(nz, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row = re.search(rf"^\| `{name}` \| ([^|]+) \|", doc, re.MULTILINE)
            assert row, name
            assert float(row.group(1).replace(",", "").strip()) == value, name
