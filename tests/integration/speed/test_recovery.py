"""SIGKILL mid-stream then restart loses nothing and applies nothing twice; SIGTERM stops
gracefully; replaying the topic from offset 0 changes nothing (Cassandra and landing files)."""

from __future__ import annotations

import signal

import pytest

from identity.rules import load_policy

from .checks import check_exactly_once, groups, live_partition, reference, snapshot
from .conftest import read_events, stop, wait_applied

pytestmark = [pytest.mark.integration, pytest.mark.partitions(1)]


def _finish(env) -> None:
    done = env.ucid("speed", "run", "--idle-exit", "2", timeout=300)
    assert "speed consumer stopped" in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_stop_mid_stream_then_restart_loses_nothing_and_applies_nothing_twice(speed_env, stream_file, sig) -> None:
    env = speed_env
    env.env["UCID_SPEED_MAX_BATCH"] = "20"  # many commits, so the stop lands between two of them
    events = read_events(stream_file)
    env.ucid("produce", str(stream_file), "--quiet")
    proc = env.start()
    wait_applied(env, len(events) // 3, "a third of the stream")
    code = stop(proc, sig)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 0)
    assert env.count("applied_events") < len(events), "stopped too late to test anything"
    _finish(env)

    check_exactly_once(env, events)
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    expected = reference(events, policy)
    assert groups(live_partition(env, set(expected))) == groups(expected)


def test_replay_from_offset_zero_changes_nothing(speed_env, stream_file) -> None:
    env = speed_env
    events = read_events(stream_file)
    env.ucid("produce", str(stream_file), "--quiet")
    _finish(env)
    check_exactly_once(env, events)
    before = snapshot(env)
    done = env.ucid("speed", "run", "--from-beginning", "--idle-exit", "2", timeout=300)
    assert f'"duplicates": {len(events)}' in done.stderr, done.stderr[-2000:]
    # one rebalance: the consumer knows the topic's partitions before it joins (a second,
    # immediate rebalance is where kafka-python 3.0.12 was seen to hang)
    assert done.stderr.count("partitions assigned") == 1, done.stderr[-2000:]
    assert snapshot(env) == before
