"""Event-contract microbenchmark: events/s of :func:`speed.contract.parse_event` on the reference
path alone (stdlib ``json`` + ``jsonschema``, the code before issue 14) and with the fast path
(``orjson`` + the schema compiled by ``fastjsonschema``), on valid and on invalid messages.

    .venv/bin/python -m bench.speed.contract [--valid 20000] [--invalid 2000] [--repeat 5]

The valid messages are the stream of ``ucid generate`` (``--customers``, ``--days``), its lines
repeated in order up to ``--valid``; the invalid ones are those lines, each broken in one of
:data:`BREACHES` in turn. The old path is the same function with the fast validator switched off
(``fast=None``), which runs exactly the decode and validation of before. Before timing, every
message's outcome (event or reason) is checked to be the same on both paths. One process, one
core, no stack; prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def generate(folder: Path, customers: int, days: int, seed: int) -> list[bytes]:
    """The stream lines of a generated data set."""
    stream = folder / "stream.jsonl"
    subprocess.run([sys.executable, "-m", "ucid.cli", "generate", "-n", str(customers), "-d", str(days), "-s",
                    str(seed), "--out", str(folder / "land"), "--stream", str(stream), "--quiet"],
                   cwd=REPO, check=True)
    return [line for line in stream.read_bytes().splitlines() if line.strip()]


def _with(doc: dict, **changes) -> dict:
    return {**doc, **changes}


BREACHES: list[tuple[str, Callable[[dict], bytes]]] = [
    ("schema_version 2", lambda d: json.dumps(_with(d, schema_version=2)).encode()),
    ("no event_id", lambda d: json.dumps({k: v for k, v in d.items() if k != "event_id"}).encode()),
    ("event_time without a zone", lambda d: json.dumps(_with(d, event_time=d["event_time"][:19])).encode()),
    ("event_time not a day", lambda d: json.dumps(_with(d, event_time="2026-02-30T00:00:00Z")).encode()),
    ("unknown identifier type", lambda d: json.dumps(_with(d, identifiers={"shoe_size": "42"})).encode()),
    ("identifier not a string", lambda d: json.dumps(_with(d, identifiers={"email": 5})).encode()),
    ("no identifiers", lambda d: json.dumps(_with(d, identifiers={})).encode()),
    ("hidden character", lambda d: json.dumps(_with(d, identifiers={"crm_id": "C1\u202e2"})).encode()),
    ("extra property", lambda d: json.dumps(_with(d, extra=1)).encode()),
    ("nested attribute", lambda d: json.dumps(_with(d, attributes={"cart": {"sku": "a"}})).encode()),
    ("attribute too large", lambda d: json.dumps(_with(d, attributes={"note": "x" * 9000})).encode()),
    ("not JSON", lambda d: json.dumps(d).encode()[:-2]),
    ("not UTF-8", lambda d: json.dumps(d).encode()[:-2] + b'\xff"}'),
    ("not an object", lambda d: json.dumps([d]).encode()),
]
"""Ways a producer breaks the contract, each message of the invalid set broken by one of them."""


def invalid_messages(valid: list[bytes], count: int) -> list[bytes]:
    """``count`` invalid messages: the valid ones in order, broken by each breach in turn."""
    return [BREACHES[i % len(BREACHES)][1](json.loads(valid[i % len(valid)])) for i in range(count)]


def outcome(parse: Callable[[bytes], object], raw: bytes) -> tuple[str, str]:
    from speed.contract import ContractError

    try:
        return ("event", repr(parse(raw)))
    except ContractError as exc:
        return ("dead letter", str(exc))


def rate(parse: Callable[[bytes], object], messages: list[bytes], repeat: int) -> float:
    """Messages per second, the best of ``repeat`` passes over all of them."""
    from speed.contract import ContractError

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for raw in messages:
            try:
                parse(raw)
            except ContractError:
                pass
        best = min(best, time.perf_counter() - started)
    return len(messages) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--valid", type=int, default=20_000)
    parser.add_argument("--invalid", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from identity.rules import load_policy
    from infra.settings import Settings, SpeedSettings
    from speed.contract import EventLimits, fast_document, load_schema, parse_event

    settings = Settings()
    speed = SpeedSettings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    limits = EventLimits(speed.max_event_bytes, speed.max_attribute_bytes)
    new = load_schema(speed.schema_path(settings.conf_dir))
    if new.fast is None:
        sys.exit(f"the fast validator is off for this schema: {'; '.join(new.untrusted)}")
    old = dataclasses.replace(new, fast=None)

    with tempfile.TemporaryDirectory() as folder:
        lines = generate(Path(folder), args.customers, args.days, args.seed)
    valid = [lines[i % len(lines)] for i in range(args.valid)]
    invalid = invalid_messages(lines, args.invalid)

    def parse_old(raw: bytes) -> object:
        return parse_event(raw, old, policy, limits)

    def parse_new(raw: bytes) -> object:
        return parse_event(raw, new, policy, limits)

    for raw in lines + invalid:
        assert outcome(parse_old, raw) == outcome(parse_new, raw), raw
    assert all(outcome(parse_new, raw)[0] == "event" for raw in lines)
    assert all(outcome(parse_new, raw)[0] == "dead letter" for raw in invalid)
    fast_share = sum(fast_document(raw, new) is not None for raw in lines) / len(lines)

    load = [round(x, 2) for x in os.getloadavg()]
    sets = {
        "valid": valid,
        "invalid": invalid,
        # refused by the decoder or the schema: the fast path fails, then the reference path words it
        "invalid_schema": [raw for raw in invalid if fast_document(raw, new) is None],
        # past the schema, refused by a later check (identifier types and values, attribute size, time)
        "invalid_later": [raw for raw in invalid if fast_document(raw, new) is not None],
    }
    figures = {}
    for name, messages in sets.items():
        figures[name] = {"old_per_s": round(rate(parse_old, messages, args.repeat)),
                         "new_per_s": round(rate(parse_new, messages, args.repeat))}
        figures[name]["speedup"] = round(figures[name]["new_per_s"] / figures[name]["old_per_s"], 2)

    print(f"{len(lines):,} distinct generated events (fast path taken by {fast_share:.0%}), "
          f"{len(valid):,} valid and {len(invalid):,} invalid messages, best of {args.repeat}; "
          f"load average before {load}")
    print(f"{'messages':<16}{'count':>7}{'old events/s':>15}{'new events/s':>15}{'new/old':>9}")
    for name, f in figures.items():
        print(f"{name:<16}{len(sets[name]):>7,}{f['old_per_s']:>15,}{f['new_per_s']:>15,}{f['speedup']:>9.2f}")
    print(json.dumps({"distinct": len(lines), "counts": {name: len(m) for name, m in sets.items()},
                      "repeat": args.repeat, "fast_share": round(fast_share, 4), "load_average_before": load,
                      **figures}))


if __name__ == "__main__":
    main()
