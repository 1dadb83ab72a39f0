"""Match rules as data: the ``rules.yaml`` model, its loader, and the compiled :class:`Policy`.

The YAML is validated strictly at load (unknown keys are errors) and every error names the file
and the field. The loaded model is then compiled once into a :class:`Policy` of plain dicts and
cached normalizers, which is what the hot path (records, clustering, stitching) uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from identity.types import (
    BUILTIN_KINDS,
    Blocklist,
    CompiledType,
    IdentifierType,
    make_normalizer,
)

DEFAULT_ID_PLACEHOLDERS = (r"(\d)(?:[\s._-]*\1)+",)
"""Placeholder values blocked for every type of kind ``id`` unless the rules say otherwise: one
digit repeated, separators allowed (``0000000000``, ``1111111``, ``000-000-0000``). Source
systems put these where the real id is unknown; linking on one would merge every customer
whose record holds it (a ``crm_id`` of ``0000000000`` minted a UCID before this rule)."""

SurvivorshipRule = Literal["source_priority", "most_recent", "most_frequent"]


class RulesError(ValueError):
    """The rules file is missing, unreadable or invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regexes(values: list[str]) -> list[str]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
    return values


class BlockedRule(_Strict):
    exact: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)

    _regex_ok = field_validator("regex")(_check_regexes)


class TypeRule(_Strict):
    kind: Literal["email", "phone", "id"] | None = None
    link: bool = True
    priority: int = Field(100, ge=1, le=1000)
    limit: int | None = Field(None, ge=1)
    case: Literal["upper", "lower", "preserve"] | None = None
    strip: str | None = None
    pattern: str | None = None
    min_length: int = Field(1, ge=1)
    max_length: int = Field(256, ge=1)
    gmail_rules: bool = False
    strip_plus_tags: bool = False
    region: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    phone_check: Literal["valid", "possible"] = "valid"
    placeholders: bool | None = None
    blocked: BlockedRule = Field(default_factory=BlockedRule)

    @field_validator("strip", "pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            _check_regexes([value])
        return value


class SurvivorshipConfig(_Strict):
    default: SurvivorshipRule = "most_recent"
    attributes: dict[str, SurvivorshipRule] = Field(default_factory=dict)

    def rule_for(self, attribute: str) -> SurvivorshipRule:
        return self.attributes.get(attribute, self.default)


class Rules(_Strict):
    """The whole ``rules.yaml``; see the comments in ``conf/rules.yaml`` for every field."""

    version: Literal[1] = 1
    default_region: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    max_cluster_identifiers: int | None = Field(None, ge=2)
    blocked: BlockedRule = Field(default_factory=BlockedRule)
    id_placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_ID_PLACEHOLDERS))
    types: dict[str, TypeRule] = Field(min_length=1)

    _placeholders_ok = field_validator("id_placeholders")(_check_regexes)
    survivorship: SurvivorshipConfig = Field(default_factory=SurvivorshipConfig)

    @model_validator(mode="after")
    def _types_consistent(self) -> Rules:
        for name, rule in self.types.items():
            where = f"types.{name}"
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"{where}: type names are lowercase words ([a-z][a-z0-9_]*)")
            kind = rule.kind or BUILTIN_KINDS.get(name, (None,))[0]
            if kind is None:
                raise ValueError(f"{where}.kind: required for a type that is not built in")
            if name in BUILTIN_KINDS and rule.kind and rule.kind != BUILTIN_KINDS[name][0]:
                raise ValueError(f"{where}.kind: built-in type is of kind {BUILTIN_KINDS[name][0]}")
            id_only = ("case", "strip", "pattern", "placeholders")
            for attr in id_only:
                if kind != "id" and getattr(rule, attr) is not None:
                    raise ValueError(f"{where}.{attr}: only for kind 'id' (this type is '{kind}')")
            if kind != "email" and (rule.gmail_rules or rule.strip_plus_tags):
                raise ValueError(f"{where}: gmail_rules/strip_plus_tags are only for kind 'email'")
            if kind != "phone" and rule.region is not None:
                raise ValueError(f"{where}.region: only for kind 'phone'")
            if rule.min_length > rule.max_length:
                raise ValueError(f"{where}.min_length: greater than max_length")
        return self


@dataclass(frozen=True, slots=True)
class Policy:
    """Compiled rules, plain data for the hot path. Build with :func:`compile_rules`."""

    types: Mapping[str, CompiledType]
    max_cluster_identifiers: int | None
    survivorship: SurvivorshipConfig
    rules: Rules
    _limits: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # the limits are asked for once per record: computed once
        object.__setattr__(self, "_limits",
                           {n: t.limit for n, t in self.types.items() if t.link and t.limit is not None})

    def linking(self) -> dict[str, CompiledType]:
        return {n: t for n, t in self.types.items() if t.link}

    def priority(self, type_name: str) -> int:
        return self.types[type_name].priority

    def limits(self) -> dict[str, int]:
        """Per-type limits of the linking types that have one."""
        return dict(self._limits)


def compile_rules(rules: Rules, default_region: str | None = None) -> Policy:
    """Turn validated rules into a :class:`Policy`; ``default_region`` overrides the YAML's.

    Built-in types not named in the rules are still known (normalized, validated, reported) but
    do not link: linking is opt-in, so adding a type to the registry never merges anyone.
    """
    region = default_region or rules.default_region
    names = sorted(set(BUILTIN_KINDS) | set(rules.types))
    compiled: dict[str, CompiledType] = {}
    for name in names:
        rule = rules.types.get(name) or TypeRule(link=False)
        builtin_kind, builtin_case = BUILTIN_KINDS.get(name, (None, "preserve"))
        kind = rule.kind or builtin_kind
        assert kind is not None  # guaranteed by Rules validation
        spec = IdentifierType(
            name=name,
            kind=kind,
            case=rule.case or builtin_case,
            strip=rule.strip,
            pattern=rule.pattern,
            min_length=rule.min_length,
            max_length=rule.max_length,
            gmail_rules=rule.gmail_rules,
            strip_plus_tags=rule.strip_plus_tags,
            region=rule.region,
            phone_check=rule.phone_check,
        )
        normalizer = make_normalizer(spec, region)
        placeholders = rules.id_placeholders if kind == "id" and rule.placeholders is not False else []
        blocklist = Blocklist.build(
            [*rules.blocked.exact, *rule.blocked.exact], [*rules.blocked.regex, *rule.blocked.regex], normalizer,
            placeholders,
        )
        compiled[name] = CompiledType(spec, rule.link, rule.priority, rule.limit, normalizer, blocklist)
    return Policy(compiled, rules.max_cluster_identifiers, rules.survivorship, rules)


def format_errors(exc: ValidationError) -> str:
    """A pydantic error as one line per field (``field 'a.b': message``), for config files."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"field '{loc}': {msg}" if loc else msg)
    return "; ".join(out)


def validate_mapping(model: type[BaseModel], raw: Any, origin: str, error: type[Exception]):
    """``model`` validated from ``raw``; any problem is ``error`` naming ``origin`` and the field
    (the one way the core's YAML configuration files -- rules, match spec -- are checked)."""
    if not isinstance(raw, Mapping):
        raise error(f"{origin}: expected a mapping at the top level")
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise error(f"{origin}: {format_errors(exc)}") from exc


def read_yaml(path: Path, error: type[Exception]) -> Any:
    """The parsed YAML at ``path``; an unreadable file or bad YAML is ``error`` naming the file."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc


def rules_from_dict(raw: Mapping[str, Any], origin: str = "<rules>") -> Rules:
    """Validate a mapping as rules; errors are :class:`RulesError` naming ``origin`` and the field."""
    return validate_mapping(Rules, raw, origin, RulesError)


def load_rules(path: Path) -> Rules:
    """Read and validate a ``rules.yaml``."""
    return rules_from_dict(read_yaml(path, RulesError), str(path))


def load_policy(path: Path, default_region: str | None = None) -> Policy:
    """:func:`load_rules` then :func:`compile_rules`: the usual entry point."""
    return compile_rules(load_rules(path), default_region)
