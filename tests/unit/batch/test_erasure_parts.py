"""The parts of erasure that need no stack (issue 16, part 1): the landing files rewritten without
an erased person's rows, the lake's delete predicate, the serving store's deletes and receipt."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from batch.erasure import predicate
from batch.landing_erasure import rewrite
from identity.rules import load_policy
from identity.sources import load_sources
from identity.suppression import hashes, ucid_hash
from infra.store.statements import ERASE_BY_UCID, STATEMENTS
from serving.erasure import Person, deletes, removed_counts, suppression_hashes

CONF = Path(__file__).resolve().parents[3] / "conf"
KEY = b"k"


@pytest.fixture(scope="module")
def policy():
    return load_policy(CONF / "rules.yaml")


@pytest.fixture(scope="module")
def sources(policy):
    return {s.name: s for s in load_sources(CONF / "sources", known_types=set(policy.types))}


def test_landing_rows_of_an_erased_person_go_in_any_spelling_and_the_rest_stays(tmp_path, policy, sources):
    crm, stream = sources["crm"], sources["stream"]
    email_col = next(c.column for c in crm.identifiers if c.type == "email")
    folder = tmp_path / crm.location
    folder.mkdir(parents=True)
    header = [crm.record_id, email_col]
    with (folder / "crm.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([header, ["1", "Ann@X.com"], ["2", "bob@x.com"], ["3", " ann@x.COM"]])
    day = tmp_path / stream.location / "2026-01-01"
    day.mkdir(parents=True)
    part = day / "part-p0-0-1.jsonl"
    part.write_text(json.dumps({"event_id": "e1", "email": "ANN@x.com"}) + "\n"
                    + json.dumps({"event_id": "e2", "email": "carl@x.com"}) + "\n")
    untouched = (folder / "crm.csv").read_bytes()

    assert rewrite(tmp_path, list(sources.values()), policy, KEY, set()) == []
    assert (folder / "crm.csv").read_bytes() == untouched

    done = {f.relpath: f for f in rewrite(tmp_path, list(sources.values()), policy, KEY,
                                          hashes(KEY, [("email", "ann@x.com")]))}
    assert {k: v.removed for k, v in done.items()} == {"crm/crm.csv": 2, "stream/2026-01-01/part-p0-0-1.jsonl": 1}
    assert list(csv.reader((folder / "crm.csv").open())) == [header, ["2", "bob@x.com"]]
    assert [json.loads(x)["event_id"] for x in part.read_text().splitlines()] == ["e2"]
    assert part.name == "part-p0-0-1.jsonl"  # the name (offsets) stays: the speed layer's landed-up-to holds
    assert not list(tmp_path.rglob(".*erasing"))


def test_predicate_names_ucid_columns_and_identifier_pairs_and_nothing_else():
    ids = {("email", "a@x.com")}
    assert predicate(["ucid", "old_ids"], {"U1"}, ids) == ("(`ucid` IN ('U1')) OR (arrays_overlap(`old_ids`, "
                                                           "array('U1')))")
    got = predicate(["id_type", "id_value", "attributes"], {"U1"}, ids)
    assert got == "(((`id_type` = 'email' AND `id_value` IN ('a@x.com'))))"
    assert predicate(["run_id", "stats"], {"U1"}, ids) is None
    assert predicate(["ucid"], set(), set()) is None
    assert "O\\'Hara" in predicate(["a_type", "a_value"], set(), {("email", "O'Hara@x.com")})


def test_the_deletes_cover_every_ucid_table_and_identifiers_before_partitions():
    who = Person(("U1", "U0"), (("email", "a@x.com"), ("phone", "+1")), ("e1",))
    first, second = deletes(who)
    assert ("erase_identifier", ("email", "a@x.com")) in first and ("erase_applied_events", ("e1",)) in first
    assert {n for n, _ in second} == {f"erase_{t}" for t in ERASE_BY_UCID}
    assert all(n in STATEMENTS for n, _ in first + second)
    assert {args for _, args in second} == {("U1",), ("U0",)}
    counts = removed_counts(who)
    assert counts["cassandra.identifiers"] == 2 and counts["suppression"] == 4
    assert suppression_hashes(KEY, who) == hashes(KEY, who.identifiers) | {ucid_hash(KEY, "U1"), ucid_hash(KEY, "U0")}
