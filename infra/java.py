"""Locate the Java runtime the stack's servers run on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path


class JavaError(RuntimeError):
    """No usable Java runtime."""


@lru_cache(maxsize=1)
def java_bin() -> str:
    """The ``java`` executable: ``$JAVA_HOME/bin/java`` if set, else the one on PATH (17+)."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise JavaError("no Java runtime found: install a JDK 17 (Debian 'openjdk-17-jdk-headless')")
    out = subprocess.run([candidate, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise JavaError(f"{candidate} is not Java 17 or newer: {out.splitlines()[0] if out else '?'}")
    return candidate


def classpath(*parts: Path | list[Path]) -> str:
    items: list[str] = []
    for part in parts:
        items.extend(str(p) for p in (part if isinstance(part, list) else [part]))
    return os.pathsep.join(items)
