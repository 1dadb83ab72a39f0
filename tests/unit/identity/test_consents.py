"""The consent model (identity/consents.py): the fold and the decision, table by table, against
the shipped conf/consents.yaml; the fold's independence of order and duplicates by hypothesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.consents import (
    ConsentConfigError,
    Statement,
    UnknownConsentTerm,
    decide,
    decide_all,
    fold,
    load_vocabulary,
)

CONF = Path(__file__).resolve().parents[3] / "conf"
V = load_vocabulary(CONF / "consents.yaml")


def s(status: str, t: int, source: str = "consents", purpose: str = "marketing", channel: str = "email",
      basis: str = "consent") -> Statement:
    return Statement(purpose, channel, status, source, t, basis)


# (case, statements, purpose, channel, allowed, reason, index of the statement it rests on)
DECISIONS = [
    ("no statement: marketing denied", [], "marketing", "email", False, "default_denied", None),
    ("no statement: profiling denied", [], "profiling", "push", False, "default_denied", None),
    ("no statement: service allowed (contract)", [], "service", "post", True, "default_allowed", None),
    ("opt-in", [s("opt_in", 1)], "marketing", "email", True, "opted_in", 0),
    ("opt-out", [s("opt_out", 1)], "marketing", "email", False, "opted_out", 0),
    ("opt-in then opt-out", [s("opt_in", 1), s("opt_out", 2)], "marketing", "email", False, "opted_out", 1),
    ("later re-opt-in", [s("opt_in", 1), s("opt_out", 2), s("opt_in", 3)], "marketing", "email", True, "opted_in", 2),
    ("event time, not arrival order", [s("opt_in", 3), s("opt_out", 2)], "marketing", "email", True, "opted_in", 0),
    ("opt-out on another channel changes nothing", [s("opt_in", 1), s("opt_out", 2, channel="sms")],
     "marketing", "email", True, "opted_in", 0),
    ("opt-out of another purpose changes nothing", [s("opt_out", 2, purpose="service")], "service", "post",
     True, "default_allowed", None),
    ("service opt-out denies service", [s("opt_out", 2, purpose="service")], "service", "email",
     False, "opted_out", 0),
    ("same time: the more trusted source wins (consents 1 < crm 2)",
     [s("opt_in", 5, "crm"), s("opt_out", 5, "consents")], "marketing", "email", False, "opted_out", 1),
    ("same time: the more trusted source wins, either way",
     [s("opt_out", 5, "crm"), s("opt_in", 5, "consents")], "marketing", "email", True, "opted_in", 1),
    ("same time, unlisted sources (same priority): the source name decides",
     [s("opt_out", 5, "web"), s("opt_in", 5, "app")], "marketing", "email", True, "opted_in", 1),
    ("same time, same source: opt-out wins", [s("opt_in", 5), s("opt_out", 5)], "marketing", "email",
     False, "opted_out", 1),
    ("a later less trusted source still wins", [s("opt_out", 5, "consents"), s("opt_in", 6, "web")],
     "marketing", "email", True, "opted_in", 1),
]


@pytest.mark.parametrize(("case", "statements", "purpose", "channel", "allowed", "reason", "rests_on"), DECISIONS,
                         ids=[d[0] for d in DECISIONS])
def test_decision(case, statements, purpose, channel, allowed, reason, rests_on) -> None:
    d = decide(V, statements, purpose, channel)
    assert (d.allowed, d.reason) == (allowed, reason)
    assert d.statement == (None if rests_on is None else statements[rests_on])
    assert d.legal_basis == ("contract" if reason == "default_allowed" else None if rests_on is None else "consent")


@pytest.mark.parametrize(("purpose", "channel", "word"), [
    ("marketing", "fax", "channel"), ("spam", "email", "purpose"), ("", "email", "purpose"),
    ("marketing", "EMAIL", "channel"),
])
def test_unknown_purpose_or_channel_is_an_error_naming_the_known_terms(purpose, channel, word) -> None:
    with pytest.raises(UnknownConsentTerm, match=f"unknown {word}.*one of"):
        decide(V, [], purpose, channel)


# (attributes of a consent_change, statements (purpose, channel, status, basis))
EVENTS = [
    ({"marketing_email": "opt_in", "sms": "opt_out", "phone": None, "capture_channel": "web"},
     [("marketing", "email", "opt_in", "consent"), ("marketing", "sms", "opt_out", "consent")]),
    ({"phone": "opt_in"}, [("marketing", "phone", "opt_in", "consent")]),
    ({"profiling_push": "opt_in", "legal_basis": "legitimate_interest"},
     [("profiling", "push", "opt_in", "legitimate_interest")]),
    ({"service_post": "opt_out", "legal_basis": "no such basis"}, [("service", "post", "opt_out", "consent")]),
    ({"marketing_email": "yes", "newsletter": "opt_in", "marketing_fax": "opt_in"}, []),
]


@pytest.mark.parametrize(("attributes", "expected"), EVENTS)
def test_statements_of_a_consent_change(attributes, expected) -> None:
    got = V.event_statements("consent_change", attributes, "consents", 7)
    assert [(x.purpose, x.channel, x.status, x.legal_basis) for x in got] == expected
    assert all(x.source == "consents" and x.time_ms == 7 for x in got)


def test_an_unsubscribe_is_an_opt_out_and_other_events_state_nothing() -> None:
    assert V.event_statements("email_unsubscribe", {"campaign_id": "C1"}, "email_campaigns", 9) == [
        s("opt_out", 9, "email_campaigns")]
    assert V.event_statements("purchase", {"marketing_email": "opt_in"}, "web", 9) == []


def test_decide_all_covers_the_vocabulary() -> None:
    got = decide_all(V, [s("opt_in", 1, channel="sms")])
    assert set(got) == {(p, c) for p in ("service", "marketing", "profiling")
                        for c in ("email", "sms", "phone", "push", "post")}
    assert [k for k, d in got.items() if d.allowed and k[0] != "service"] == [("marketing", "sms")]


def test_a_bad_vocabulary_names_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "consents.yaml"
    bad.write_text((CONF / "consents.yaml").read_text().replace("sms: {purpose: marketing, channel: sms}",
                                                               "sms: {purpose: marketing, channel: fax}"))
    with pytest.raises(ConsentConfigError, match=r"consents.yaml.*names.sms"):
        load_vocabulary(bad)


statement = st.builds(
    Statement, st.sampled_from(["marketing", "service"]), st.sampled_from(["email", "sms"]),
    st.sampled_from(["opt_in", "opt_out"]), st.sampled_from(["consents", "crm", "web", "app"]),
    st.integers(0, 4), st.sampled_from(["consent", "contract"]))


@given(st.lists(statement, max_size=12), st.randoms())
def test_the_fold_ignores_order_and_duplicates(statements, rnd) -> None:
    shuffled = statements + statements[: len(statements) // 2]
    rnd.shuffle(shuffled)
    assert fold(V, shuffled) == fold(V, statements)
    for key, won in fold(V, statements).items():
        assert won.time_ms == max(x.time_ms for x in statements if (x.purpose, x.channel) == key)
