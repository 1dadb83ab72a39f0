"""``ucid generate`` on the command line (typer CliRunner, a tiny data set)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from ucid.commands.generate import generate


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(generate)
    return app


def test_generate_command_writes_data_truth_stream_and_manifest(tmp_path: Path) -> None:
    out, stream = tmp_path / "landing", tmp_path / "events.jsonl"
    args = ["--customers", "120", "--seed", "3", "--out", str(out), "--days", "5",
            "--start-date", "2026-03-01", "--stream", str(stream)]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "in 3+ sources" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"] == {"customers": 120, "seed": 3, "days": 5, "start_date": "2026-03-01",
                                      "chunk_size": 5000, "stream": True}
    assert sorted(p.name for p in (out / "web").iterdir()) <= [f"2026-03-0{d}" for d in range(1, 6)]
    assert stream.read_text().startswith('{"event_id":')
    again = CliRunner().invoke(_app(), args)  # refuses to mix with the earlier output
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert CliRunner().invoke(_app(), [*args, "--overwrite", "--quiet"]).exit_code == 0


def test_generate_command_rejects_bad_dates(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--out", str(tmp_path), "--start-date", "01/02/2026"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output
