"""The suppression check of erased people (issue 16, part 1): keyed hashes of the identity core's
normalized identifiers, so every spelling the core reads as one identifier is suppressed."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from identity.records import Record
from identity.rules import load_policy
from identity.suppression import (
    hashes,
    identifier_hash,
    record_hashes,
    record_suppressed,
    suppressed,
    ucid_hash,
)

RULES = Path(__file__).resolve().parents[3] / "conf" / "rules.yaml"
KEY = b"test-key"


@pytest.fixture(scope="module")
def policy():
    return load_policy(RULES)


def test_hash_is_hmac_sha256_of_type_and_value():
    expected = hmac.new(KEY, b"email:ann@x.com", hashlib.sha256).hexdigest()
    assert identifier_hash(KEY, "email", "ann@x.com") == expected


def test_hash_depends_on_the_key_and_the_type():
    assert identifier_hash(KEY, "email", "ann@x.com") != identifier_hash(b"other", "email", "ann@x.com")
    assert identifier_hash(KEY, "crm_id", "C1") != identifier_hash(KEY, "loyalty_id", "C1")
    assert ucid_hash(KEY, "U1") == identifier_hash(KEY, "ucid", "U1")


@pytest.mark.parametrize(("type_name", "spellings"), [
    ("email", ["Ann@X.com", "ann@x.com", "  ANN@x.COM "]),
    ("phone", ["+1 912 638 4701", "+19126384701", "(912) 638-4701"]),
])
def test_spellings_the_core_reads_as_one_identifier_have_one_hash(policy, type_name, spellings):
    got = [record_hashes(KEY, Record("crm", "r1", ((type_name, s),)), policy) for s in spellings]
    assert all(len(h) == 1 for h in got)
    assert len(set.union(*got)) == 1


def test_a_record_with_any_erased_identifier_is_suppressed(policy):
    erased = hashes(KEY, [("email", "ann@x.com")])
    mixed = Record("crm", "r1", (("email", "Ann@X.com"), ("phone", "+19126384701")))
    other = Record("crm", "r2", (("email", "bob@x.com"),))
    assert record_suppressed(KEY, mixed, policy, erased)
    assert not record_suppressed(KEY, other, policy, erased)
    assert not record_suppressed(KEY, mixed, policy, set())


def test_refused_values_are_never_suppressed_and_never_raise(policy):
    erased = hashes(KEY, [("email", "ann@x.com")])
    assert not record_suppressed(KEY, Record("crm", "r1", (("email", "not an e-mail"),)), policy, erased)
    assert not record_suppressed(KEY, Record("crm", "r1", (("email", None),)), policy, erased)


def test_suppressed_is_membership_of_any():
    assert suppressed(["a", "b"], {"b"})
    assert not suppressed(["a"], {"b"})
    assert not suppressed([], {"b"})
