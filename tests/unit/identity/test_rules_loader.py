"""The rules.yaml model and loader: the shipped file loads, bad files fail naming file + field."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.rules import (
    RulesError,
    compile_rules,
    load_policy,
    load_rules,
    rules_from_dict,
)

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RULES = REPO / "conf" / "rules.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_rules_load_and_compile() -> None:
    policy = load_policy(DEFAULT_RULES)
    linking = policy.linking()
    assert {"crm_id", "email", "phone", "loyalty_id", "billing_account", "cookie_id", "device_id"} <= set(linking)
    assert policy.limits()["crm_id"] == 1
    assert policy.types["email"].accept("Test@Test.com")[1].kind == "blocked"


def test_default_region_can_be_overridden_by_the_caller() -> None:
    rules = load_rules(DEFAULT_RULES)
    assert compile_rules(rules, default_region="GB").types["phone"].accept("020 7946 0018")[0] == "+442079460018"


def test_unknown_key_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "types:\n  email:\n    priority: 1\n    limt: 3\n")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert str(path) in str(err.value) and "types.email.limt" in str(err.value)


def test_bad_value_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "types:\n  email:\n    limit: 0\n")
    with pytest.raises(RulesError, match=r"types\.email\.limit"):
        load_rules(path)


def test_bad_regex_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "types:\n  phone:\n    blocked:\n      regex: ['(']\n")
    with pytest.raises(RulesError, match=r"types\.phone\.blocked\.regex.*bad regex"):
        load_rules(path)


def test_new_type_needs_a_kind() -> None:
    with pytest.raises(RulesError, match=r"types\.passport\.kind"):
        rules_from_dict({"types": {"passport": {"priority": 5}}}, "r.yaml")


def test_kind_specific_fields_are_checked() -> None:
    with pytest.raises(RulesError, match=r"types\.email\.case"):
        rules_from_dict({"types": {"email": {"case": "upper"}}})
    with pytest.raises(RulesError, match=r"gmail_rules"):
        rules_from_dict({"types": {"crm_id": {"gmail_rules": True}}})
    with pytest.raises(RulesError, match=r"types\.crm_id\.kind"):
        rules_from_dict({"types": {"crm_id": {"kind": "email"}}})


def test_not_yaml_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(write(tmp_path, "types: [\n"))
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    with pytest.raises(RulesError, match="mapping"):
        load_rules(write(tmp_path, "- a\n- b\n"))


def test_extra_type_declared_by_configuration() -> None:
    policy = compile_rules(
        rules_from_dict(
            {"types": {"passport": {"kind": "id", "case": "upper", "strip": r"\s", "pattern": r"[A-Z]\d{7}", "limit": 1}}}
        )
    )
    passport = policy.types["passport"]
    assert passport.accept("x 123 4567") == ("X1234567", None)
    assert passport.accept("12")[1].kind == "invalid"
    assert policy.limits() == {"passport": 1}


def test_builtin_types_not_listed_are_known_but_do_not_link() -> None:
    policy = compile_rules(rules_from_dict({"types": {"crm_id": {"priority": 1}}}))
    assert "email" in policy.types and not policy.types["email"].link
    assert set(policy.linking()) == {"crm_id"}


def test_survivorship_section() -> None:
    rules = rules_from_dict(
        {"types": {"crm_id": {}}, "survivorship": {"default": "most_frequent", "attributes": {"name": "source_priority"}}}
    )
    assert rules.survivorship.rule_for("name") == "source_priority"
    assert rules.survivorship.rule_for("city") == "most_frequent"
    with pytest.raises(RulesError, match="survivorship.default"):
        rules_from_dict({"types": {"crm_id": {}}, "survivorship": {"default": "loudest"}})
