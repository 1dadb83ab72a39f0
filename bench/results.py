"""The results file every benchmark writes (``bench/<layer>/results.json``): what ran, where, and
the figures, so the README's figures can be traced to a run."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def provenance(layer: str, args: argparse.Namespace) -> dict:
    """Where a results file comes from: the command line, the date, the commit, the machine
    (with its load before the run: the machine is shared) and the parameters."""
    import datetime
    import platform
    import shlex

    import psutil

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "command": shlex.join([".venv/bin/python", "-m", f"bench.{layer}.run", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in os.getloadavg()]},
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in sorted(vars(args).items())},
    }


def write_results(out: Path, run: dict, figures: dict, ratios: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**run, "figures": figures, "ratios": ratios}, indent=2) + "\n")
    print(f"results -> {out}")
