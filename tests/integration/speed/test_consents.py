"""Consents per purpose and channel on the real stack (issue 16, part 3).

1. A marketing trigger is not fired after an opt-out: ``abandoned_cart`` (purpose marketing,
   channel email in conf/events/triggers.yaml) fires for the customer who opted in, not for the
   one who opted out before the cart, nor the one who opted out after the cart but before the
   trigger was due, nor the one who never stated anything (marketing: denied without opt-in).
2. Batch ≡ speed: a stream of consent statements (opt-in, opt-out, re-opt-in, arrival order
   unlike event time, two sources at the same event time, an unsubscribe, channels and purposes
   beyond marketing e-mail) goes through ``ucid speed run``; then ``ucid batch run`` over the
   landing files the speed layer wrote (ingest .. profiles, publish). The decisions of every
   purpose and channel from the speed layer's rows, from the batch's ``gold/consents`` and from
   the keyspace after the publish are equal, and equal to the expected table; ``gold/consent_state``
   (the Spark fold) equals the identity core's fold of ``gold/consents``; the publish writes
   the same rows the speed layer wrote (no new statement rows).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from identity.consents import Statement, decide_all, fold, load_vocabulary
from identity.rules import load_policy
from speed.consents import read_statements
from speed.resolve import resolve_identifier

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class World:
    """Customers (one e-mail each, so their events share a Kafka key and partition) and events."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.events: list[dict] = []

    def email(self, who: str) -> str:
        return f"{who}.{self.tag}@consent-test.io"

    def add(self, who: str, minutes: float, type_: str, source: str = "consents", channel: str = "web",
            **attributes) -> None:
        self.events.append({
            "event_id": f"CNS-{self.tag}-{len(self.events)}", "schema_version": 1, "type": type_,
            "event_time": _at(minutes), "channel": channel, "source": source,
            "identifiers": {"email": self.email(who)}, "attributes": attributes})

    def write(self, path) -> None:
        import json

        path.write_text("".join(json.dumps(e) + "\n" for e in self.events))


def _run_speed(env, world: World, tmp_path) -> None:
    stream = tmp_path / "stream.jsonl"
    world.write(stream)
    env.ucid("produce", str(stream), "--quiet")
    env.ucid("speed", "run", "--idle-exit", "2", timeout=600)
    assert env.count("applied_events") == len(world.events)


def test_a_marketing_trigger_is_not_fired_after_an_opt_out(speed_env, tmp_path) -> None:
    env, w = speed_env, World()
    w.add("in", 0, "consent_change", marketing_email="opt_in")
    w.add("out", 0, "consent_change", marketing_email="opt_in")
    w.add("out", 2, "consent_change", marketing_email="opt_out")
    w.add("late_out", 0, "consent_change", marketing_email="opt_in")
    w.add("sms_only", 0, "consent_change", sms="opt_in")  # opted in, but not to e-mail
    for who in ("in", "out", "late_out", "none", "sms_only"):
        w.add(who, 5, "add_to_cart", source="web", product="P1")
    w.add("late_out", 20, "consent_change", marketing_email="opt_out")  # after the cart, before it is due
    for who in ("in", "out", "late_out", "none", "sms_only"):
        w.add(who, 40, "page_view", source="web", page="/")  # moves event time past the 30 minutes
    _run_speed(env, w, tmp_path)
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    ucid = {who: resolve_identifier(env.store, policy, f"email:{w.email(who)}")
            for who in ("in", "out", "late_out", "none", "sms_only")}
    assert all(ucid.values()), ucid
    fired = {r.ucid for r in env.rows("trigger_fired", "rule, ucid") if r.rule == "abandoned_cart"}
    assert fired == {ucid["in"]}, {who: u in fired for who, u in ucid.items()}


# (customer, purpose, channel) -> (allowed, reason, source of the statement it rests on)
EXPECTED = {
    ("optin", "marketing", "email"): (True, "opted_in", "consents"),
    ("optout", "marketing", "email"): (False, "opted_out", "consents"),
    ("reoptin", "marketing", "email"): (True, "opted_in", "consents"),
    ("late", "marketing", "email"): (False, "opted_out", "consents"),  # the later event time, sent first
    ("tie_priority", "marketing", "email"): (False, "opted_out", "consents"),  # consents (1) over crm (2)
    ("tie_name", "marketing", "sms"): (True, "opted_in", "app"),  # same priority: app before web
    ("unsub", "marketing", "email"): (False, "opted_out", "email_campaigns"),
    ("unsub", "marketing", "sms"): (True, "opted_in", "consents"),
    ("terms", "marketing", "phone"): (True, "opted_in", "consents"),
    ("terms", "profiling", "push"): (True, "opted_in", "consents"),
    ("terms", "service", "post"): (False, "opted_out", "consents"),
    ("terms", "service", "email"): (True, "default_allowed", None),
    ("none", "marketing", "email"): (False, "default_denied", None),
}


def _consent_stream(w: World) -> None:
    w.add("optin", 0, "consent_change", marketing_email="opt_in")
    w.add("optout", 0, "consent_change", marketing_email="opt_in")
    w.add("optout", 10, "consent_change", marketing_email="opt_out")
    for minutes, status in ((0, "opt_in"), (10, "opt_out"), (20, "opt_in")):
        w.add("reoptin", minutes, "consent_change", marketing_email=status)
    w.add("late", 20, "consent_change", marketing_email="opt_out")
    w.add("late", 10, "consent_change", marketing_email="opt_in")
    w.add("tie_priority", 5, "consent_change", source="crm", marketing_email="opt_in")
    w.add("tie_priority", 5, "consent_change", source="consents", marketing_email="opt_out")
    w.add("tie_name", 5, "consent_change", source="web", sms="opt_out")
    w.add("tie_name", 5, "consent_change", source="app", sms="opt_in")
    w.add("unsub", 0, "consent_change", marketing_email="opt_in", sms="opt_in")
    w.add("unsub", 10, "email_unsubscribe", source="email_campaigns", channel="email", campaign_id="C1")
    w.add("terms", 0, "consent_change", phone="opt_in", capture_channel="contact_center")
    w.add("terms", 1, "consent_change", profiling_push="opt_in", legal_basis="legitimate_interest")
    w.add("terms", 2, "consent_change", service_post="opt_out")
    w.add("none", 0, "page_view", source="web", page="/")


def _decisions(vocabulary, statements: list[Statement]) -> dict:
    return {k: (d.allowed, d.reason, d.statement) for k, d in decide_all(vocabulary, statements).items()}


def test_batch_and_speed_give_the_same_consent_decisions(speed_env, tmp_path, spark) -> None:
    env, w = speed_env, World()
    _consent_stream(w)
    _run_speed(env, w, tmp_path)
    vocabulary = load_vocabulary(env.settings.conf_dir / "consents.yaml")
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    customers = sorted({who for who, _, _ in EXPECTED})
    ucid = {who: resolve_identifier(env.store, policy, f"email:{w.email(who)}") for who in customers}
    assert all(ucid.values()), ucid
    speed_rows = {who: sorted(read_statements(env.store, u), key=repr) for who, u in ucid.items()}
    speed = {who: _decisions(vocabulary, rows) for who, rows in speed_rows.items()}
    for (who, purpose, channel), (allowed, reason, source) in EXPECTED.items():
        got = speed[who][(purpose, channel)]
        assert (got[0], got[1], got[2].source if got[2] else None) == (allowed, reason, source), (who, purpose, channel)
    assert speed_rows["terms"][[s.purpose for s in speed_rows["terms"]].index("profiling")].legal_basis == \
        "legitimate_interest"

    lake = tmp_path / "lake"
    env.env["UCID_LAKE_DIR"] = str(lake)
    env.ucid("batch", "run", "--landing", str(env.landing), "--stages", "ingest,normalize,resolve,profiles,publish",
             timeout=1800)
    from pyspark.sql import functions as F

    def read(name: str) -> list:
        table = spark.read.format("delta").load(str(lake / "gold" / name))
        return table.withColumn("t", F.unix_millis("event_time")).collect()

    gold, state = read("consents"), read("consent_state")
    ids = spark.read.format("delta").load(str(lake / "gold" / "identity_state")).collect()
    batch_ucid = {r["id_value"]: r["ucid"] for r in ids if r["id_type"] == "email"}

    def stmt(r) -> Statement:
        return Statement(r["purpose"], r["channel"], r["status"], r["source"], r["t"], r["legal_basis"])

    for who in customers:
        u = batch_ucid[w.email(who)]
        assert u == ucid[who], f"{who}: batch UCID {u}, speed UCID {ucid[who]}"
        statements = [stmt(r) for r in gold if r["ucid"] == u]
        assert sorted(statements, key=repr) == speed_rows[who], who
        assert _decisions(vocabulary, statements) == speed[who], who
        spark_fold = {(r["purpose"], r["channel"]): stmt(r) for r in state if r["ucid"] == u}
        assert spark_fold == fold(vocabulary, statements), who

    published = {who: sorted(read_statements(env.store, u), key=repr) for who, u in ucid.items()}
    assert published == speed_rows  # the publish wrote the rows the speed layer wrote, nothing else
    assert env.count("consent_statements") == len(gold)
