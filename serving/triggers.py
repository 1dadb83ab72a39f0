"""A customer's open triggers, as the speed layer keeps them (``infra/cql/002_speed.cql``).

Open means one of two things, both read from the speed layer's own tables:

* ``waiting``: an ``absence`` rule (abandoned cart) saw its ``when`` event and waits for the
  ``unless`` event until ``dueAt`` (``trigger_pending``, under the Kafka partition -- the shard --
  that carried the event: every partition of the events topic in ``infra/topics.yaml`` is read);
* ``fired``: the rule fired for the customer in a window that has not ended yet, so channel
  systems may still be acting on it and the rule will not fire again before ``windowEnds``
  (the newest ``trigger_fired`` row of the rule).

The rule names, kinds and windows come from the speed layer's trigger file (``conf/events/
triggers.yaml``); only those three fields are read here (the serving layer does not import the
speed layer, which owns the rules' meaning). Rows under every UCID merged into the customer count.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from infra import topics
from infra.store.aio import ApiReads


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str  # match | absence
    window_s: int


def load_rules(path: Path) -> list[Rule]:
    """Name, kind and window of every rule of the trigger file (the speed layer validates the rest)."""
    raw = yaml.safe_load(path.read_text()) or {}
    return [Rule(str(r["name"]), str(r["kind"]), int(r["window_s"])) for r in raw.get("triggers") or []]


def shards(topics_file: Path = topics.TOPICS_FILE, topic: str = "events") -> list[int]:
    """The shards a pending trigger may be kept under: the partitions of the events topic."""
    spec = next(t for t in topics.specs(topics_file) if t.name == topic)
    return list(range(spec.partitions))


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def open_triggers(store: ApiReads, rules: list[Rule], shard_ids: list[int], ucids: list[str],
                        now: datetime) -> list[dict]:
    """The waiting and still-in-window fired triggers of the customer whose UCIDs are ``ucids``,
    waiting ones first, then by time, newest first."""
    pairs = [(rule, ucid) for rule in rules for ucid in ucids]
    fired, waiting = await asyncio.gather(
        asyncio.gather(*(store.fired_latest(rule.name, ucid) for rule, ucid in pairs)),
        asyncio.gather(*(store.pending(shard_ids, rule.name, ucid) for rule, ucid in pairs if rule.kind == "absence")),
    )
    windows = {rule.name: rule.window_s for rule in rules}
    out = []
    for rows in waiting:
        for row in rows:
            out.append({"rule": row["rule"], "state": "waiting", "ucid": row["ucid"], "eventId": row.get("event_id"),
                        "since": _utc(row.get("since")), "dueAt": _utc(row.get("due_at")),
                        "firedAt": None, "windowEnds": None})
    for row in fired:
        if row is None or row.get("window_start") is None:
            continue
        ends = _utc(row["window_start"]) + timedelta(seconds=windows[row["rule"]])
        if ends > now:
            out.append({"rule": row["rule"], "state": "fired", "ucid": row["ucid"], "eventId": row.get("event_id"),
                        "since": _utc(row["window_start"]), "dueAt": None,
                        "firedAt": _utc(row.get("fired_at")), "windowEnds": ends})
    out.sort(key=lambda t: (t["state"] != "waiting", -(t["firedAt"] or t["since"] or now).timestamp()))
    return out
