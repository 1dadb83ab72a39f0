"""Consents in the speed layer (speed/consents.py): the rows an event writes, rules naming a
purpose and channel. The read-back and the trigger gate run against Cassandra in
tests/integration/speed/test_consents.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from identity.consents import UnknownConsentTerm, load_vocabulary
from infra.settings import Settings, SpeedSettings
from speed.consents import check_rules, consent_writes, statement_of
from speed.contract import Event, parse_time_ms
from speed.triggers import TriggerConfigError, load_triggers

CONF = Settings().conf_dir
V = load_vocabulary(CONF / "consents.yaml")
T = "2026-01-05T08:00:00.250Z"


def ev(type_: str, **attrs) -> Event:
    return Event("E1", type_, T, parse_time_ms(T), "web", "consents", {"crm_id": "C1"}, attrs)


def test_a_consent_change_writes_one_row_per_statement_keyed_by_its_content() -> None:
    writes = consent_writes(V, "U1", ev("consent_change", marketing_email="opt_out", sms="opt_in",
                                        capture_channel="web"), 99)
    at = datetime(2026, 1, 5, 8, 0, 0, 250_000, UTC)
    assert writes == [
        ("put_consent", ("U1", "marketing", "email", at, "consents", "opt_out", "consent", datetime.fromtimestamp(0.099, UTC))),
        ("put_consent", ("U1", "marketing", "sms", at, "consents", "opt_in", "consent", datetime.fromtimestamp(0.099, UTC))),
    ]
    # read back as the driver returns it (naive UTC), the same statements
    rows = [dict(zip(("purpose", "channel", "event_time", "source", "status", "legal_basis"),
                     (*w[1][1:3], w[1][3].replace(tzinfo=None), *w[1][4:7]), strict=True)) for w in writes]
    assert [statement_of(r) for r in rows] == V.event_statements(
        "consent_change", {"marketing_email": "opt_out", "sms": "opt_in"}, "consents", parse_time_ms(T))


def test_other_events_write_nothing() -> None:
    assert consent_writes(V, "U1", ev("purchase", marketing_email="opt_in"), 1) == []


def test_the_repo_marks_abandoned_cart_a_marketing_email_contact() -> None:
    rules = {r.name: r for r in load_triggers(SpeedSettings().triggers_path(CONF))}
    assert (rules["abandoned_cart"].purpose, rules["abandoned_cart"].channel) == ("marketing", "email")
    check_rules(V, list(rules.values()))


@pytest.mark.parametrize(("extra", "error", "match"), [
    ("purpose: marketing", TriggerConfigError, "both 'purpose' and 'channel'"),
    ("channel: sms", TriggerConfigError, "both 'purpose' and 'channel'"),
    ("purpose: marketing\n    channel: fax", UnknownConsentTerm, "unknown channel 'fax'"),
])
def test_a_rule_names_a_known_purpose_and_channel_or_none(tmp_path: Path, extra, error, match) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"version: 1\ntriggers:\n  - name: x\n    kind: match\n    when: {{type: a}}\n"
                    f"    window_s: 10\n    {extra}\n")
    with pytest.raises(error, match=match):
        check_rules(V, load_triggers(path))
