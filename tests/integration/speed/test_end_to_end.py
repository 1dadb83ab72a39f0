"""`ucid produce` + `ucid speed run` against the real stack: customers resolvable within a
second, a hand-written event sent with kcat is processed, a malformed one is dead-lettered."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from identity.rules import load_policy
from speed.profile_store import read_profile
from speed.resolve import resolve_identifier

from .conftest import read_events, stop, wait_applied, wait_for

pytestmark = pytest.mark.integration


def _kcat(env, topic: str, payload: bytes, key: str | None = None) -> None:
    args = ["kcat", "-P", "-b", env.settings.kafka.bootstrap_servers, "-t", topic]
    if key:
        args += ["-K", "\t"]
        payload = key.encode() + b"\t" + payload
    subprocess.run(args, input=payload + b"\n", check=True, timeout=30)


def _dlq(env, count: int) -> list[dict]:
    out = subprocess.run(
        ["kcat", "-C", "-b", env.settings.kafka.bootstrap_servers, "-t", env.topic("events.dlq"), "-o",
         "beginning", "-c", str(count), "-e", "-q", "-f", "%h\\n%s\\n--end--\\n"],
        check=True, capture_output=True, timeout=60,
    ).stdout.decode()
    found = []
    for block in out.split("--end--\n"):
        if block.strip():
            headers, _, value = block.partition("\n")
            found.append({"headers": headers, "value": value.rstrip("\n")})
    return found


def test_stream_is_resolvable_within_a_second_and_bad_input_is_dead_lettered(speed_env, stream_file) -> None:
    env = speed_env
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    proc = env.start()
    try:
        # wait until the consumer owns the partitions
        wait_for(lambda: "partitions assigned" in _log(env), 60, "the consumer to join its group")
        env.ucid("produce", str(stream_file), "--quiet")
        events = read_events(stream_file)
        wait_applied(env, len(events), "the stream to be applied")

        # every valid identifier of the stream resolves to a live UCID
        unresolved = []
        for ev in events:
            for type_name, raw in ev["identifiers"].items():
                ident, kind, _ = policy.types[type_name].verdict(raw)
                if ident is not None and kind is None and resolve_identifier(env.store, policy, f"{type_name}:{raw}") is None:
                    unresolved.append((type_name, raw))
        assert not unresolved, unresolved[:10]

        # hand-written events with new customers: resolvable, with the event on the profile, within 1 s
        latencies = []
        for i in range(10):
            email = f"kcat.{uuid.uuid4().hex[:10]}@kcat-mail.io"
            event = {"event_id": f"KCAT-{uuid.uuid4().hex}", "schema_version": 1, "type": "login",
                     "event_time": "2026-02-01T10:00:00Z", "channel": "web", "source": "web",
                     "identifiers": {"email": email, "cookie_id": str(uuid.uuid4())},
                     "attributes": {"page": "/login"}}
            sent = time.monotonic()
            _kcat(env, env.topic(), json.dumps(event).encode(), key=f"email:{email}")

            def visible() -> bool:
                ucid = resolve_identifier(env.store, policy, f"email:{email}")
                profile = ucid and read_profile(env.store, ucid)
                return bool(profile) and any(r["id"] == event["event_id"] for r in profile["recent"])

            wait_for(visible, 10, f"event {i} to be visible")
            latencies.append(time.monotonic() - sent)
        assert max(latencies) < 1.0, latencies

        # malformed input: dead-lettered with the reason and the original bytes; consumption goes on
        bad = [b"{not json", json.dumps({"event_id": "BAD-1", "schema_version": 1}).encode(),
               json.dumps({"event_id": "BAD-2", "schema_version": 1, "type": "login", "event_time":
                           "2026-02-01T10:00:00Z", "channel": "web", "source": "web",
                           "identifiers": {"shoe_size": "42"}}).encode()]
        # hostile input (issue 16): an identifier holding NUL, an attribute over the size limit
        hostile = {"schema_version": 1, "type": "login", "event_time": "2026-02-01T10:00:00Z", "channel": "web",
                   "source": "web"}
        bad += [json.dumps({**hostile, "event_id": "BAD-3", "identifiers": {"email": "nul\u0000@kcat-mail.io"}}).encode(),
                json.dumps({**hostile, "event_id": "BAD-4", "identifiers": {"cookie_id": "big-attr-cookie"},
                            "attributes": {"blob": "x" * 10_000}}).encode()]
        for payload in bad:
            _kcat(env, env.topic(), payload)
        letters = wait_for(lambda: len(_dlq(env, len(bad))) >= len(bad), 30, "dead letters") or _dlq(env, len(bad))
        letters = _dlq(env, len(bad))
        assert sorted(x["value"].encode() for x in letters) == sorted(bad)
        joined = "\n".join(x["headers"] for x in letters)
        assert "ucid.error=not JSON" in joined
        assert "required property" in joined
        assert "unknown identifier type(s) shoe_size" in joined
        assert "identifiers/email: control or invisible character U+0000 (control) at position 3" in joined
        assert "attributes/blob: value too large: 10,000 bytes (the maximum is 8,192)" in joined
        assert "ucid.source=" + env.topic() in joined
        # and a good event after them is still processed
        tail = {"event_id": "AFTER-BAD", "schema_version": 1, "type": "page_view", "event_time":
                "2026-02-01T10:00:01Z", "channel": "web", "source": "web",
                "identifiers": {"cookie_id": "after-bad-cookie"}}
        _kcat(env, env.topic(), json.dumps(tail).encode())
        wait_for(lambda: env.store.one("get_applied", "AFTER-BAD") is not None, 30, "the event after the bad ones")
    finally:
        assert stop(proc) == 0, _log(env)[-3000:]
    assert "speed consumer stopped" in _log(env)


def _log(env) -> str:
    return "".join(p.read_text() for p in sorted(env.landing.parent.glob("speed-*.log")))


def test_a_missing_events_topic_is_a_clear_error(speed_env) -> None:
    env = speed_env
    env.env["UCID_SPEED_TOPIC"] = "no-such-topic"
    done = env.ucid("speed", "run", "--idle-exit", "1", check=False, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"topic '{env.topic('no-such-topic')}' does not exist" in done.stderr
