"""Logging writes to the stderr of the moment, so a stream captured when it was configured (a CLI
runner's, a test's) and closed since never breaks a later log line."""

from __future__ import annotations

import io
import logging
import sys

from infra.log import configure, get_logger


def test_a_log_line_goes_to_the_current_stderr_after_the_configuring_one_closed(monkeypatch):
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", captured)
    configure("INFO")
    get_logger("t").info("first")
    captured.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    get_logger("t").info("second", n=1)
    logging.getLogger("t.stdlib").warning("third")
    assert "second" in now.getvalue() and "n=1" in now.getvalue()
    assert "third" in now.getvalue()
