"""``/v1/profiles/{ucid}/consents`` and ``/v1/contactability`` against the published data set and
the real speed consumer: the batch's statements as published, a speed-layer opt-out and re-opt-in
seen at once, the survivor's answer for a merged UCID, 422 / 403 / 404, every answer audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from identity.consents import Statement, decide_all, load_vocabulary

pytestmark = pytest.mark.integration


def _rows(cql_session, ks: str, ucid: str) -> list[Statement]:
    rows = cql_session.execute(f"SELECT purpose, channel, event_time, source, status, legal_basis "
                               f"FROM {ks}.consent_statements WHERE ucid = %s", (ucid,))
    return [Statement(r.purpose, r.channel, r.status, r.source,
                      int(r.event_time.replace(tzinfo=UTC).timestamp() * 1000), r.legal_basis) for r in rows]


def _audited(cql_session, ks: str, ucid: str, action: str) -> int:
    rows = cql_session.execute(f"SELECT action FROM {ks}.audit_by_ucid WHERE ucid = %s", (ucid,))
    return sum(1 for r in rows if r.action == action)


def test_the_published_statements_and_their_decisions(client, serving_data, cql_session) -> None:
    ks = serving_data.keyspace
    vocabulary = load_vocabulary(serving_data.settings.conf_dir / "consents.yaml")
    merged = {serving_data.alias, serving_data.survivor}  # their answer is the union of both: elsewhere
    with_rows = [u for u in sorted(serving_data.published.minted)
                 if u not in merged and _rows(cql_session, ks, u)][:5]
    assert len(with_rows) == 5, "the published data set has (almost) no consent statements"
    for ucid in with_rows:
        before = _audited(cql_session, ks, ucid, "profile.consents")
        r = client.get(f"/v1/profiles/{ucid}/consents")
        assert r.status_code == 200, r.text
        doc = r.json()
        held = _rows(cql_session, ks, ucid)
        assert doc["ucid"] == ucid
        assert len(doc["statements"]) == len(held)
        expected = decide_all(vocabulary, held)
        got = {(d["purpose"], d["channel"]): d for d in doc["decisions"]}
        assert set(got) == set(expected)
        for key, d in expected.items():
            assert (got[key]["allowed"], got[key]["reason"]) == (d.allowed, d.reason), (ucid, key)
            if d.statement is not None:
                assert got[key]["statement"]["source"] == d.statement.source
                assert got[key]["statement"]["status"] == d.statement.status
        assert _audited(cql_session, ks, ucid, "profile.consents") == before + 1


def _spare_with(serving_data, types=("email", "crm_id")) -> tuple[str, tuple[str, str]]:
    for ucid in serving_data.spare[::-1]:
        for ident in serving_data.published.members[ucid]:
            if ident[0] in types:
                return ucid, ident
    pytest.skip("no spare customer with an e-mail or CRM id")


def test_a_speed_opt_out_and_re_opt_in_answer_at_once(client, serving_data, speed_layer, cql_session) -> None:
    ucid, (id_type, value) = _spare_with(serving_data)
    ask = {"ucid": ucid, "purpose": "marketing", "channel": "sms"}
    now = datetime.now(UTC)
    steps = [("opt_in", True, "opted_in"), ("opt_out", False, "opted_out"), ("opt_in", True, "opted_in")]
    for i, (status, allowed, reason) in enumerate(steps):
        at = now + timedelta(minutes=i)
        speed_layer.apply(speed_layer.event(f"CNS-{uuid.uuid4().hex[:10]}", {id_type: value}, {"sms": status},
                                            type_="consent_change", at=at))
        body = client.get("/v1/contactability", params=ask).json()
        assert (body["allowed"], body["reason"]) == (allowed, reason), body
        assert body["ucid"] == ucid and body["statement"]["status"] == status
        assert body["statement"]["source"] == "web" and body["statement"]["legalBasis"] == "consent"
        assert datetime.fromisoformat(body["statement"]["eventTime"].replace("Z", "+00:00")) == \
            at.replace(microsecond=at.microsecond // 1000 * 1000)
    # an older statement arriving now changes nothing: the latest by event time wins
    speed_layer.apply(speed_layer.event(f"CNS-{uuid.uuid4().hex[:10]}", {id_type: value}, {"sms": "opt_out"},
                                        type_="consent_change", at=now - timedelta(days=1)))
    assert client.get("/v1/contactability", params=ask).json()["allowed"] is True
    assert _audited(cql_session, serving_data.keyspace, ucid, "contactability") >= 4


def test_a_merged_ucid_answers_for_its_survivor(client, serving_data) -> None:
    body = client.get("/v1/contactability", params={"ucid": serving_data.alias, "purpose": "service",
                                                    "channel": "post"}).json()
    assert body["ucid"] == serving_data.survivor
    assert client.get(f"/v1/profiles/{serving_data.alias}/consents").json()["ucid"] == serving_data.survivor


@pytest.mark.parametrize(("params", "word"), [({"purpose": "marketing", "channel": "fax"}, "channel"),
                                              ({"purpose": "spam", "channel": "email"}, "purpose")])
def test_an_unknown_purpose_or_channel_is_a_422_naming_the_known_ones(client, serving_data, params, word) -> None:
    r = client.get("/v1/contactability", params={"ucid": serving_data.survivor, **params})
    assert r.status_code == 422 and f"unknown {word}" in r.json()["detail"], r.text


def test_refused_calls(client, serving_data, api_keys) -> None:
    missing = "U" + "0" * 20
    assert client.get(f"/v1/profiles/{missing}/consents").status_code == 404
    r = client.get("/v1/contactability", params={"ucid": serving_data.survivor, "purpose": "marketing",
                                                 "channel": "email"}, headers={"X-API-Key": api_keys["resolve"]})
    assert r.status_code == 403
