"""Start and stop the stack's server processes, tracked by pid files.

A server runs detached in its own session, its output going to a log file. ``stop`` ends exactly
the process recorded in the pid file, and only if its command line still carries the marker we
started it with (a recycled pid is never signalled).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Managed:
    """One server process the stack manages."""

    name: str
    run_dir: Path
    log_file: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def marker(self) -> str:
        return f"-Ducid.stack={self.name}:{self.run_dir.resolve()}"  # one home, however reached


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_pid(proc: Managed) -> int | None:
    """The pid of the managed process if it is alive and really ours, else None."""
    try:
        pid = int(proc.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if proc.marker not in _cmdline(pid):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return None
    return None if state == "Z" else pid


def start(proc: Managed, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` detached, appending its output to the log file; return the child.

    While the caller waits for the server to come up it should ask the child (``poll()``) whether
    it still runs: the JVM launcher may re-exec itself, so /proc is briefly unreliable then.
    """
    proc.run_dir.mkdir(parents=True, exist_ok=True)
    proc.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(proc.log_file, "ab") as out:
        child = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    proc.pid_file.write_text(str(child.pid))
    return child


def stop(proc: Managed, timeout_s: float = 60) -> bool:
    """SIGTERM the process, wait for it, SIGKILL if it hangs; True if something was stopped."""
    pid = running_pid(proc)
    if pid is None:
        proc.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and running_pid(proc) is not None:
        _reap(pid)
        time.sleep(0.2)
    if running_pid(proc) is not None:
        os.kill(pid, signal.SIGKILL)
        while running_pid(proc) is not None:
            _reap(pid)
            time.sleep(0.1)
    _reap(pid)
    proc.pid_file.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    # when the server is our own child (started in this process), collect it so it is not a zombie
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file ('' if it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
