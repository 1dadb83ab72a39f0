"""schemathesis against the API's own OpenAPI schema, served by a real ``ucid serve`` process
on the published data set: no server error, no response that breaks the schema, no valid
request rejected where the schema can say what is valid (see ``CONFIG``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(serving_data, api_keys) -> Iterator[str]:
    """``ucid serve`` in a subprocess on a free port, ready when ``/ready`` says so."""
    port = _free_port()
    env = {**os.environ, "UCID_CASSANDRA_KEYSPACE": serving_data.keyspace, "UCID_SERVING_KEY_CACHE_TTL_S": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ucid.cli", "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "ucid serve exited"
            assert time.monotonic() < deadline, "ucid serve not ready in 60 s"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# positive_data_acceptance ("valid request rejected") runs on every operation whose inputs the
# schema describes completely: the batch resolve (its items' values are judged one by one, inside
# a 200), the no-op and the operations endpoints. It is off where a parameter holds what only the
# server can judge, whatever the schema says: an identifier value (the identity core validates
# it: numbering plans, blocked and placeholder values, so a schema-valid email "0" is rightly a
# 422 with the reason) and a page cursor (an opaque token the API issued: the events', contacts' and segment members' pages).
CONFIG = """
[[operations]]
include-name-regex = "^GET /v1/(resolve|profiles/|explain|segments/)"
checks.positive_data_acceptance.enabled = false
"""


# examples per operation: enough to reach past the happy path of every parameter, and the whole
# run (10 operations, all phases) took 42 s at 100 on the loaded shared 2-core machine (load ~20)
MAX_EXAMPLES = int(os.environ.get("UCID_TEST_SCHEMATHESIS_EXAMPLES", "100"))


def _operations(base: str) -> set[str]:
    schema = httpx.get(f"{base}/openapi.json", timeout=10).json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return {f"{m.upper()} {path}" for path, item in schema["paths"].items() for m in item if m in methods}


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, api_keys, tmp_path):
    operations = _operations(live_server)
    assert len(operations) >= 5, operations
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "run",
        f"{live_server}/openapi.json",
        "--header", f"X-API-Key: {api_keys['all']}",
        "--max-examples", str(MAX_EXAMPLES), "--seed", "1",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    tail = "\n".join(run.stdout.splitlines()[-40:])
    print(f"schemathesis: {len(operations)} operations, {MAX_EXAMPLES} examples each, {took:.0f} s\n{tail}")
    assert run.returncode == 0, f"schemathesis failed (exit {run.returncode}):\n{tail}\n{run.stderr[-2000:]}"

    # every operation of the schema was tested, none skipped or errored (the junit report)
    import xml.etree.ElementTree as ET

    reports = list((tmp_path / "report").glob("*.xml"))
    assert len(reports) == 1, reports
    cases = ET.parse(reports[0]).getroot().iter("testcase")
    tested, not_passed = set(), []
    for case in cases:
        tested.add(case.get("name"))
        if any(child.tag in ("skipped", "error", "failure") for child in case):
            not_passed.append(case.get("name"))
    # the stateful phase (sequences of calls linked by the answers' UCIDs, e.g. a segment's members
    # -> their profiles) is reported as one more case, not an operation; it must pass like the others
    tested.discard("Stateful tests")
    assert tested == operations, f"untested: {sorted(operations - tested)}; unknown: {sorted(tested - operations)}"
    assert not not_passed, f"not passed: {not_passed}"


def test_a_live_server_refuses_hostile_input_before_reading_it(live_server, api_keys):
    """Against real uvicorn: a body without a key is never parsed (401, not 422), a body over
    UCID_SERVING_MAX_BODY_BYTES is 413 whether it has a length or is chunked, and a hostile
    identifier is a 422 naming the character or the rule."""
    url = f"{live_server}/v1/resolve/batch"
    json_type = {"Content-Type": "application/json"}
    r = httpx.post(url, content=b"{not json", headers=json_type, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    keyed = {**json_type, "X-API-Key": api_keys["all"]}
    big = b" " * 2_000_000
    r = httpx.post(url, content=big, headers=keyed, timeout=30)
    assert r.status_code == 413 and "2,000,000 bytes" in r.json()["detail"]
    r = httpx.post(url, content=iter([big[:500_000]] * 4), headers=keyed, timeout=30)  # chunked
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    for id_type, value, reason in (("email", "ann\x00@x.org", "U+0000"), ("crm_id", "0000000000", "placeholder")):
        r = httpx.get(f"{live_server}/v1/resolve", params={"type": id_type, "value": value},
                      headers={"X-API-Key": api_keys["all"]}, timeout=10)
        assert r.status_code == 422 and reason in r.json()["detail"], r.text
