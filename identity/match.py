"""The probabilistic match model as data: the ``match.yaml`` spec, person rows, decisions, edges.

Exact rules link two records only when they share an identifier. The match model links records
that share none (an in-store registration, a CRM duplicate with a typo in the phone) by comparing
person attributes: names, birth date, address, e-mail local part, phone digits. The statistics
(Fellegi-Sunter m/u, term frequencies, EM) live in Splink, behind ``infra/match``; this module is
what batch and speed must share and what must stay pure Python:

* the spec (:class:`MatchSpec`), validated strictly from YAML like ``rules.yaml``;
* :func:`person_row`, how one record's attributes and identifiers become the model's input
  columns (the same cleaning for training, batch and real-time scoring);
* :func:`decide`, the link / review / no-link decision from a match probability;
* :func:`match_edges`, scored record pairs above the link threshold as clustering
  :class:`~identity.cluster.Edge` s between the records' anchors, carrying their own rule name
  and evidence (:class:`MatchEvidence`). They go through the same
  :func:`~identity.cluster.cluster_edges` as the deterministic edges, after them, so per-type
  limits, the size guard, blocked values (never a model input) and UCID stability still apply.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from identity.cluster import Edge
from identity.records import record_node
from identity.rules import read_yaml, validate_mapping
from identity.sources import SourceDefinition
from identity.types import Identifier

Method = Literal["exact", "name", "jaro_winkler", "date", "edit_distance", "email", "address"]
Decision = Literal["link", "review", "no_link"]

RULE_PREFIX = "model"
"""A probabilistic edge's rule is ``model:<spec name>``, never an identifier-type pair."""

ID_COLUMN = "unique_id"
"""The model input's row id (an int per person row, unique within one run)."""

NAME_ATTRIBUTES = ("first_name", "last_name", "full_name")


class MatchSpecError(ValueError):
    """The match spec is missing, unreadable or invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    """One column of the model: how two records' values of one attribute are compared.

    ``column`` is the model input column (see :func:`person_row`): a person attribute
    (``first_name``, ``birth_date``, ...) or ``email`` / ``phone`` (the record's first valid,
    unblocked identifier of that type) or any attribute a source declares (an id with typos).
    """

    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    method: Method
    thresholds: list[float] = Field(default_factory=list)
    term_frequency: bool = False
    max_edits: int | None = Field(None, ge=1, le=3)
    postal_code: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    city: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _thresholds_fit_method(self) -> Comparison:
        t = self.thresholds
        if self.method != "address" and (self.postal_code or self.city):
            raise ValueError("postal_code / city: only for method 'address'")
        if self.max_edits is not None and self.method not in ("name", "jaro_winkler"):
            raise ValueError("max_edits: only for methods 'name' and 'jaro_winkler'")
        if self.method in ("name", "jaro_winkler", "address"):
            if not t or any(not 0 < x < 1 for x in t) or t != sorted(t, reverse=True):
                raise ValueError("thresholds: Jaro-Winkler similarities in (0, 1), highest first")
        elif self.method == "edit_distance":
            if not t or any(x < 1 or x != int(x) for x in t) or t != sorted(t):
                raise ValueError("thresholds: whole edit distances >= 1, smallest first")
        elif self.method == "date":
            if not t or any(x <= 0 for x in t) or t != sorted(t):
                raise ValueError("thresholds: day differences > 0, smallest first")
        elif t:
            raise ValueError(f"thresholds: not used by method {self.method!r}")
        return self

    def input_columns(self) -> list[str]:
        """The model input columns this comparison reads."""
        return [c for c in (self.column, self.postal_code, self.city) if c]


class Training(_Strict):
    """How the model is trained (``infra.match.train``): lambda, then u, then m."""

    deterministic_rules: list[list[str]] = Field(
        min_length=1, description="columns whose equality is a near-certain link: lambda's estimate"
    )
    deterministic_recall: float = Field(gt=0, le=1, description="share of true pairs those rules find")
    u_max_pairs: int = Field(ge=1000, description="random pairs sampled for u")
    em_blocking_rules: list[list[str]] = Field(min_length=1, description="one EM session per rule")


DEFAULT_COMPARISONS: tuple[dict[str, Any], ...] = (
    {"column": "first_name", "method": "name", "max_edits": 1, "thresholds": [0.92, 0.8], "term_frequency": True},
    {"column": "last_name", "method": "name", "max_edits": 1, "thresholds": [0.92, 0.8], "term_frequency": True},
    {"column": "birth_date", "method": "date", "thresholds": [31, 366]},
    {"column": "address", "method": "address", "thresholds": [0.9], "postal_code": "postal_code", "city": "city"},
    {"column": "email", "method": "email"},
    {"column": "phone", "method": "edit_distance", "thresholds": [1, 2]},
    {"column": "loyalty_id", "method": "edit_distance", "thresholds": [1, 2]},
    {"column": "national_id", "method": "edit_distance", "thresholds": [1, 2]},
)


class MatchSpec(_Strict):
    """The whole ``match.yaml``; ``conf/match.yaml`` documents every field."""

    version: Literal[1] = 1
    name: str = Field("person", pattern=r"^[a-z][a-z0-9_]*$")
    seed: int = 42
    link_threshold: float = Field(0.999, gt=0, lt=1)
    review_threshold: float = Field(0.95, gt=0, lt=1)
    sources: list[str] | None = None
    limits: dict[str, int] = Field(default_factory=dict)
    vetoes: list[str] = Field(default_factory=lambda: ["first_name", "birth_date"])
    corroboration: list[str] = Field(default_factory=lambda: ["birth_date", "email", "phone"])
    shared: list[str] = Field(default_factory=lambda: ["email", "phone"])
    uncorroborated: Literal["review", "link_if_unambiguous"] = "link_if_unambiguous"
    comparisons: list[Comparison] = Field(
        default_factory=lambda: [Comparison(**c) for c in DEFAULT_COMPARISONS], min_length=1
    )
    blocking_rules: list[list[str]] = Field(
        default_factory=lambda: [
            ["first_name", "last_name"], ["last_name", "birth_date"], ["first_name", "birth_date"],
            ["birth_date", "postal_code"], ["last_name", "postal_code"], ["address"], ["email"], ["phone"],
        ],
        min_length=1,
    )
    training: Training = Field(
        default_factory=lambda: Training(
            deterministic_rules=[["email"], ["phone"], ["first_name", "last_name", "birth_date"]],
            deterministic_recall=0.8,
            u_max_pairs=2_000_000,
            em_blocking_rules=[["first_name", "last_name"], ["birth_date"]],
        )
    )

    @model_validator(mode="after")
    def _consistent(self) -> MatchSpec:
        if self.review_threshold > self.link_threshold:
            raise ValueError("review_threshold: must not exceed link_threshold (the review band lies below it)")
        compared = [c.column for c in self.comparisons]
        dupes = sorted({c for c in compared if compared.count(c) > 1})
        if dupes:
            raise ValueError(f"comparisons: column(s) compared twice: {', '.join(dupes)}")
        inputs = set(self.columns())
        for where, rules in (("blocking_rules", self.blocking_rules),
                             ("training.deterministic_rules", self.training.deterministic_rules),
                             ("training.em_blocking_rules", self.training.em_blocking_rules)):
            for n, rule in enumerate(rules):
                if not rule:
                    raise ValueError(f"{where}.{n}: an empty rule would compare every pair")
                unknown = [c for c in rule if c not in inputs]
                if unknown:
                    raise ValueError(f"{where}.{n}: column(s) {', '.join(unknown)} not among the compared columns")
        for where, names in (("vetoes", self.vetoes), ("corroboration", self.corroboration), ("shared", self.shared)):
            unknown = [v for v in names if v not in compared]
            if unknown:
                raise ValueError(f"{where}: {', '.join(unknown)} not a compared column")
        for type_name, limit in self.limits.items():
            if limit < 1:
                raise ValueError(f"limits.{type_name}: at least 1")
        return self

    @property
    def rule(self) -> str:
        """The rule name of this model's edges."""
        return f"{RULE_PREFIX}:{self.name}"

    def columns(self) -> list[str]:
        """Model input columns, in comparison order (an address comparison also reads its
        postal code and city columns)."""
        return list(dict.fromkeys(c for comp in self.comparisons for c in comp.input_columns()))

    def restricted_to(self, available: Iterable[str]) -> MatchSpec:
        """The spec without the comparisons whose column no input provides, and without the
        rules that use them: a source set declaring the usual person attributes gets a working
        model without editing the spec. Raises :class:`MatchSpecError` when nothing is left."""
        have = set(available)
        comparisons = [
            c.model_copy(update={"postal_code": c.postal_code if c.postal_code in have else None,
                                 "city": c.city if c.city in have else None})
            for c in self.comparisons if c.column in have
        ]
        if len(comparisons) < 2:
            raise MatchSpecError(
                f"the sources provide {len(comparisons)} of the compared columns "
                f"({', '.join(self.columns())}); a model needs at least 2"
            )

        def keep(rules: list[list[str]]) -> list[list[str]]:
            return [r for r in rules if set(r) <= have]

        blocking = keep(self.blocking_rules)
        training = self.training.model_copy(update={
            "deterministic_rules": keep(self.training.deterministic_rules),
            "em_blocking_rules": keep(self.training.em_blocking_rules),
        })
        for where, rules in (("blocking_rules", blocking),
                             ("training.deterministic_rules", training.deterministic_rules),
                             ("training.em_blocking_rules", training.em_blocking_rules)):
            if not rules:
                raise MatchSpecError(f"{where}: no rule left whose columns the sources provide ({', '.join(sorted(have))})")
        kept = {c.column for c in comparisons}
        return self.model_copy(update={"comparisons": comparisons, "blocking_rules": blocking, "training": training,
                                       "vetoes": [v for v in self.vetoes if v in kept],
                                       "corroboration": [v for v in self.corroboration if v in kept],
                                       "shared": [v for v in self.shared if v in kept]})

    def check_limits(self, limited_types: Iterable[str], linking_types: Iterable[str] = ()) -> None:
        """Model limits may only re-state limits the rules already have: a type the rules link
        without a limit stays unlimited, so a model limit for it raises :class:`MatchSpecError`.
        A limit for a type the rules do not link is ignored (:meth:`limits_for`)."""
        limited = set(limited_types)
        unlimited = sorted((set(self.limits) & set(linking_types)) - limited)
        if unlimited:
            raise MatchSpecError(
                f"limits: {', '.join(unlimited)} has no limit in the rules (limited: {', '.join(sorted(limited))})"
            )

    def limits_for(self, limited_types: Iterable[str]) -> dict[str, int]:
        """The model limits of the types the rules limit (the others do not link at all)."""
        limited = set(limited_types)
        return {t: n for t, n in self.limits.items() if t in limited}


def spec_from_dict(raw: Mapping[str, Any] | None, origin: str = "<match>") -> MatchSpec:
    """Validate a mapping as a match spec; errors are :class:`MatchSpecError` naming ``origin``.
    An empty file (``None``) is the default spec."""
    return validate_mapping(MatchSpec, {} if raw is None else raw, origin, MatchSpecError)


def load_spec(path: Path) -> MatchSpec:
    """Read and validate a ``match.yaml``."""
    return spec_from_dict(read_yaml(path, MatchSpecError), str(path))


# ------------------------------------------------------------------------------------------------
# person rows: the model's input columns from one record
# ------------------------------------------------------------------------------------------------
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_ADDRESS_PUNCT = re.compile(r"[.,#]")
_ADDRESS_WORDS = {
    "street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr", "lane": "ln",
    "court": "ct", "place": "pl", "terrace": "ter", "circle": "cir", "parkway": "pkwy",
    "highway": "hwy", "square": "sq", "apartment": "apt", "suite": "ste", "unit": "apt",
    "north": "n", "south": "s", "east": "e", "west": "w",
}
_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"), (0, 1, 2)),  # ISO, also with a time after it
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (0, 1, 2)),  # 19840312 (FEBRL)
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), (2, 0, 1)),  # US 03/12/1984
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def clean_name(raw: str | None) -> str | None:
    """Lower case, accents and punctuation dropped, spaces collapsed; ``None`` when empty."""
    if raw is None:
        return None
    value = _SPACES.sub(" ", _NOT_LETTERS.sub(" ", _fold(raw).replace("'", ""))).strip()
    return value or None


def split_full_name(raw: str | None) -> tuple[str | None, str | None]:
    """``(first, last)`` of ``"LAST, FIRST"`` or ``"First [Middle] Last"``."""
    if raw is None or not raw.strip():
        return None, None
    if "," in raw:
        last, _, first = raw.partition(",")
        return clean_name(first), clean_name(last)
    parts = raw.split()
    if len(parts) == 1:
        return None, clean_name(parts[0])
    return clean_name(" ".join(parts[:-1])), clean_name(parts[-1])


def clean_date(raw: str | None) -> str | None:
    """``YYYY-MM-DD`` from ISO, ``YYYYMMDD`` or ``MM/DD/YYYY``; ``None`` when it is not a date.

    A date-shaped value that is no real date (``2003-50-10``: two digits swapped) keeps its
    shape, so the edit-distance level still sees the typo and a real disagreement still counts
    as one; only the date-difference levels cannot read it.
    """
    if raw is None:
        return None
    text = raw.strip()
    for pattern, (iy, im, iday) in _DATE_FORMATS:
        m = pattern.match(text)
        if m:
            parts = m.groups()
            return f"{int(parts[iy]):04d}-{int(parts[im]):02d}-{int(parts[iday]):02d}"
    return None


def clean_address(raw: str | None) -> str | None:
    """Lower case, punctuation dropped, street words abbreviated (``Street`` -> ``st``): two
    spellings of one address compare equal, a real difference (house number) stays."""
    if raw is None:
        return None
    words = _SPACES.sub(" ", _ADDRESS_PUNCT.sub(" ", _fold(raw))).split()
    value = " ".join(_ADDRESS_WORDS.get(w, w) for w in words)
    return value or None


def clean_code(raw: str | None) -> str | None:
    """Postal codes and free ids: spaces and dashes dropped, upper case."""
    if raw is None:
        return None
    value = re.sub(r"[\s-]+", "", raw).upper()
    return value or None


ALIASES = {"address": ("address", "address_line", "billing_address", "street_address")}
"""Profile attribute names that feed a model column when a source has no attribute of the
column's own name (billing declares ``billing_address``)."""

NICKNAMES = {
    "bill": "william", "billy": "william", "will": "william", "willie": "william", "liz": "elizabeth",
    "beth": "elizabeth", "betty": "elizabeth", "bob": "robert", "bobby": "robert", "rob": "robert",
    "jim": "james", "jimmy": "james", "mike": "michael", "dave": "david", "rick": "richard",
    "dick": "richard", "joe": "joseph", "tom": "thomas", "tommy": "thomas", "chris": "christopher",
    "charlie": "charles", "chuck": "charles", "dan": "daniel", "danny": "daniel", "matt": "matthew",
    "tony": "anthony", "steve": "steven", "andy": "andrew", "josh": "joshua", "ken": "kenneth",
    "jeff": "jeffrey", "nick": "nicholas", "jon": "jonathan", "greg": "gregory", "alex": "alexander",
    "pat": "patrick", "sam": "samuel", "ben": "benjamin", "ron": "ronald", "tim": "timothy",
    "ed": "edward", "eddie": "edward", "larry": "lawrence", "jerry": "gerald", "zach": "zachary",
    "doug": "douglas", "pete": "peter", "peggy": "margaret", "maggie": "margaret", "meg": "margaret",
    "kate": "katherine", "kathy": "katherine", "katie": "katherine", "cathy": "catherine",
    "jenny": "jennifer", "jen": "jennifer", "jess": "jessica", "patty": "patricia", "trish": "patricia",
    "sue": "susan", "susie": "susan", "debbie": "deborah", "deb": "deborah", "becky": "rebecca",
    "sandy": "sandra", "cindy": "cynthia", "kim": "kimberly", "pam": "pamela", "vicky": "victoria",
    "abby": "abigail", "mandy": "amanda", "steph": "stephanie", "judy": "judith", "terry": "teresa",
"nat": "natalie", "dot": "dorothy", "fran": "frances", "jackie": "jacqueline",
}
"""Common English nicknames -> the given name they stand for. First names are compared by this
canonical form, so ``Bill`` and ``William`` are one first name (the cost: a real Bill and a real
William at one address look alike on this column; the other columns still differ)."""


def clean_first_name(raw: str | None) -> str | None:
    """:func:`clean_name`, then a nickname replaced by its given name (:data:`NICKNAMES`)."""
    value = clean_name(raw)
    if value is None:
        return None
    head, _, rest = value.partition(" ")
    canonical = NICKNAMES.get(head, head)
    return f"{canonical} {rest}".strip()


_CLEANERS = {
    "first_name": clean_first_name,
    "last_name": clean_name,
    "birth_date": clean_date,
    "address": clean_address,
    "city": clean_name,
    "postal_code": clean_code,
}


def model_attributes(declared: Iterable[str], columns: Iterable[str]) -> list[str]:
    """The declared attribute names a source must read to fill ``columns``."""
    wanted = {a for c in columns for a in ALIASES.get(c, (c,))} | set(NAME_ATTRIBUTES)
    return [a for a in declared if a in wanted]


def person_sources(sources: Iterable[SourceDefinition], spec: MatchSpec) -> list[SourceDefinition]:
    """The sources the model compares: the spec's list, or every source declaring a name.
    :class:`MatchSpecError` if the spec names a source that is not defined."""
    sources = list(sources)
    if spec.sources is not None:
        known = {s.name for s in sources}
        unknown = sorted(set(spec.sources) - known)
        if unknown:
            raise MatchSpecError(f"match spec names unknown source(s): {', '.join(unknown)}")
        return [s for s in sources if s.name in spec.sources]
    return [s for s in sources if any(a in s.attributes for a in NAME_ATTRIBUTES)]


def person_row(
    attributes: Mapping[str, str | None],
    identifiers: Iterable[Identifier],
    columns: Iterable[str],
) -> dict[str, str | None]:
    """The model's input values of one record, one per column.

    ``attributes`` are the record's profile attributes by ucid name (``first_name``,
    ``full_name``, ``address``, ...); ``identifiers`` its *valid, unblocked* normalized
    identifiers (so a junk ``test@test.com`` never makes two records look alike). A column
    named like an identifier type takes that type's smallest value; a ``full_name`` fills
    ``first_name`` / ``last_name`` when they are absent; other columns are cleaned by kind (names,
    dates, addresses, codes). Pure: the same record gives the same row in batch and speed.
    """
    by_type: dict[str, str] = {}
    for type_name, value in sorted(identifiers):
        by_type.setdefault(type_name, value)
    first, last = attributes.get("first_name"), attributes.get("last_name")
    if (not first or not last) and attributes.get("full_name"):
        f, l = split_full_name(attributes.get("full_name"))
        first, last = first or f, last or l
    merged = {**attributes, "first_name": first, "last_name": last}
    row: dict[str, str | None] = {}
    for column in columns:
        if column in by_type:
            row[column] = by_type[column]
            continue
        raw = next((merged[a] for a in ALIASES.get(column, (column,)) if merged.get(a) is not None), None)
        if raw is not None and not isinstance(raw, str):
            raw = str(raw)
        cleaner = _CLEANERS.get(column, clean_code)
        row[column] = cleaner(raw) if raw is not None and raw.strip() else None
    return row


def carries_person(row: Mapping[str, str | None]) -> bool:
    """Whether a person row holds a name: what makes a record of an *event* source (a
    registration, a profile change on the stream) a person row at all. A page view carries an
    e-mail and nothing else; comparing every such event with every other would pair all the
    events of one address and link on an identifier alone (which exact rules already do)."""
    return bool(row.get("first_name") or row.get("last_name"))


def keeps_person_row(kind: str, row: Mapping[str, str | None]) -> bool:
    """Whether a record of a source of ``kind`` becomes a person row: every record of a profile
    source, a record of an event source only when it :func:`carries_person` (batch, local
    command and speed layer all apply this)."""
    return kind != "event" or carries_person(row)


BLOCK_SEPARATOR = "\x1f"


def block_keys(row: Mapping[str, str | None], spec: MatchSpec) -> list[str]:
    """The keys under which the speed layer's blocking index finds a person row: one per
    blocking rule whose columns all hold a value, ``col+col=value<US>value``. Two rows share a
    key exactly when Splink's blocking (``block_on``: equal, non-null values) pairs them on that
    rule, so the candidates read by key are the pairs the batch scores. Sorted, no duplicates."""
    keys = set()
    for rule in spec.blocking_rules:
        values = [row.get(c) for c in rule]
        if all(v is not None and v != "" for v in values):
            keys.add(f"{'+'.join(rule)}={BLOCK_SEPARATOR.join(values)}")
    return sorted(keys)


# ------------------------------------------------------------------------------------------------
# decisions and edges
# ------------------------------------------------------------------------------------------------
def vetoed(levels: Iterable[Level], spec: MatchSpec) -> str | None:
    """The first veto column whose comparison fell to its last level (gamma 0: total
    disagreement, e.g. birth dates years apart), or ``None``. Both values were present: a
    missing value is the null level (-1), never a veto."""
    vetoes = set(spec.vetoes)
    for level in levels:
        if level.comparison in vetoes and level.level == 0:
            return level.comparison
    return None


def corroborated(levels: Iterable[Level], spec: MatchSpec) -> bool:
    """Whether a corroboration column (birth date, e-mail, phone) agrees, i.e. has a level with a
    positive weight; always true when the spec names none."""
    if not spec.corroboration:
        return True
    wanted = set(spec.corroboration)
    return any(level.comparison in wanted and level.weight > 0 for level in levels)


def decide(probability: float, spec: MatchSpec, levels: Iterable[Level] = ()) -> Decision:
    """``link`` at or above the link threshold, ``review`` in ``[review, link)``, else
    ``no_link``. A linkable pair goes to review instead when a veto column contradicts it
    (:func:`vetoed`: twins share everything but the first name, a parent and child everything
    but the birth date) or when nothing but name and address agree (:func:`corroborated`: two
    members of one household may share both; the weights, which treat columns as independent,
    cannot know that). The one decision batch and speed both make."""
    if probability >= spec.link_threshold:
        levels = tuple(levels)
        return "review" if vetoed(levels, spec) or not corroborated(levels, spec) else "link"
    if probability >= spec.review_threshold:
        return "review"
    return "no_link"


@dataclass(frozen=True, slots=True)
class Level:
    """One comparison's outcome for a pair: its Splink level (gamma), label and match weight."""

    comparison: str
    level: int
    label: str
    weight: float


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """Why a probabilistic edge exists: the model, the pair's match probability and weight, and
    each comparison's level and weight (what a data steward reads in an explanation)."""

    rule: str
    model: str  # the model file's version hash
    probability: float
    weight: float
    levels: tuple[Level, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """One scored record pair: the records (source, record id), their anchors, the evidence."""

    left: tuple[str, str]
    right: tuple[str, str]
    left_anchor: Identifier
    right_anchor: Identifier
    evidence: MatchEvidence


def decide_pairs(pairs: list[ScoredPair], spec: MatchSpec) -> list[Decision]:
    """:func:`decide` for every pair, except that (with ``uncorroborated: link_if_unambiguous``)
    a pair held back only for want of corroboration links when it is unambiguous.

    Uncorroborated (name and address agree, nothing else can: a billing row has no birth date)
    is dangerous only when the record has look-alikes: a "John Smith" billing row at an address
    where a John Smith senior and junior live. So such a pair links unless one of its records has
    another link candidate (a pair at or above the link threshold, not vetoed) that a vetoed
    pair sets apart from its partner here; then it stays in review. Depends only on the pairs
    given, in any order.
    """
    decisions = [decide(p.evidence.probability, spec, p.evidence.levels) for p in pairs]
    if spec.uncorroborated == "review":
        return decisions
    apart: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    candidates: dict[tuple[str, str], set[tuple[str, str]]] = {}
    held: list[int] = []
    for i, pair in enumerate(pairs):
        levels = pair.evidence.levels
        if vetoed(levels, spec):
            apart.add((pair.left, pair.right))
            apart.add((pair.right, pair.left))
            continue
        if pair.evidence.probability >= spec.link_threshold:
            candidates.setdefault(pair.left, set()).add(pair.right)
            candidates.setdefault(pair.right, set()).add(pair.left)
            if decisions[i] == "review":
                held.append(i)
    for i in held:
        pair = pairs[i]
        ambiguous = any((pair.right, other) in apart for other in candidates[pair.left]) or any(
            (pair.left, other) in apart for other in candidates[pair.right]
        )
        if not ambiguous:
            decisions[i] = "link"
    return decisions


def match_edges(pairs: Iterable[ScoredPair], spec: MatchSpec) -> list[Edge]:
    """One :class:`Edge` per anchor pair among the pairs :func:`decide_pairs` links.

    Pairs of records with one anchor add nothing. Several record pairs between two anchors make
    one edge whose ``support`` counts them and whose ``match`` is the strongest pair's evidence
    (ties: the smaller record keys), so the result does not depend on input order.
    """
    pairs = list(pairs)
    pairs = [p for p, d in zip(pairs, decide_pairs(pairs, spec), strict=True) if d == "link"]
    best: dict[tuple[Identifier, Identifier], tuple[tuple, ScoredPair]] = {}
    support: dict[tuple[Identifier, Identifier], int] = {}
    for pair in pairs:
        a, b = pair.left_anchor, pair.right_anchor
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        records = tuple(sorted((pair.left, pair.right)))
        rank = (-pair.evidence.weight, records)
        support[key] = support.get(key, 0) + 1
        got = best.get(key)
        if got is None or rank < got[0]:
            best[key] = (rank, pair)
    return [
        Edge(a, b, rank[1], support[(a, b)], match=pair.evidence)
        for (a, b), (rank, pair) in sorted(best.items())
    ]


def conflict_pairs(pairs: Iterable[ScoredPair], spec: MatchSpec) -> list[tuple[Identifier, Identifier]]:
    """Anchor pairs of the scored pairs a veto column contradicts (:func:`vetoed`): the model's
    word that these records are different people, which
    :func:`~identity.cluster.cluster_edges` keeps apart. Sorted, without duplicates."""
    out = set()
    for pair in pairs:
        a, b = pair.left_anchor, pair.right_anchor
        if a != b and vetoed(pair.evidence.levels, spec):
            out.add((a, b) if a < b else (b, a))
    return sorted(out)


# ------------------------------------------------------------------------------------------------
# shared identifiers: an exact link between two person records that the model contradicts
# ------------------------------------------------------------------------------------------------
RecordKey = tuple[str, str]


def probability_of(weight: float) -> float:
    """A match weight (log2 of the odds) as a match probability."""
    if weight >= 0:
        return 1.0 / (1.0 + 2.0 ** -weight)
    odds = 2.0 ** weight
    return odds / (1.0 + odds)


def weight_without(evidence: MatchEvidence, column: str) -> float:
    """The pair's match weight without the agreement on ``column`` (its comparison's weight is
    taken off when positive; a disagreement or a missing value stays counted)."""
    return evidence.weight - sum(lvl.weight for lvl in evidence.levels if lvl.comparison == column and lvl.weight > 0)


def clearly_different(evidence: MatchEvidence, spec: MatchSpec, column: str) -> bool:
    """Whether the model says two records holding the same identifier of the shared type
    ``column`` are different people: a veto column contradicts them (:func:`vetoed`: another first
    name, a birth date years apart) *and* the rest of the records, without that identifier's own
    agreement, does not even reach the review floor. A first-name typo with an agreeing surname,
    address or phone still reaches it; two members of a household, one giving the other's e-mail,
    do not."""
    if vetoed(evidence.levels, spec) is None:
        return False
    return probability_of(weight_without(evidence, column)) < spec.review_threshold


def withheld_identifiers(
    pairs: Iterable[ScoredPair],
    identifiers: Mapping[RecordKey, Iterable[Identifier]],
    spec: MatchSpec,
    trust: Mapping[str, int] | None = None,
) -> dict[RecordKey, frozenset[Identifier]]:
    """The identifiers of a shared type (``spec.shared``: e-mail, phone) that person records must
    not link through: the record -> identifiers it keeps out of exact linking.

    Households share an e-mail or a landline: the store registration of one member may carry the
    other's e-mail, and an exact rule then puts it into the other's cluster. The person records
    holding one shared identifier (``identifiers``: each record's valid, unblocked identifiers)
    fall into groups: two holders are in one group unless the model finds them
    :func:`clearly_different` (a pair not among ``pairs`` is not). One group holds the
    identifier alone: nothing changes. Otherwise the identifier's *owner* is the group with the
    most records, then the most trusted record (``trust``: source -> priority, 1 the most
    trusted; the sources' ``priority``), and the records of every other group withhold it. Groups
    tied for owner keep it (the exact link between them stands). Depends only on the pairs and
    identifiers given, in any order.
    """
    shared = set(spec.shared)
    if not shared:
        return {}
    trust = trust or {}
    worst = max(trust.values(), default=0) + 1
    held = {key: {i for i in ids if i[0] in shared} for key, ids in identifiers.items()}
    holders: dict[Identifier, set[RecordKey]] = {}
    apart: set[tuple[Identifier, RecordKey, RecordKey]] = set()
    for pair in pairs:
        if pair.left == pair.right:
            continue
        for ident in held.get(pair.left, set()) & held.get(pair.right, set()):
            holders.setdefault(ident, set()).update((pair.left, pair.right))
            if clearly_different(pair.evidence, spec, ident[0]):
                apart.add((ident, pair.left, pair.right))
                apart.add((ident, pair.right, pair.left))
    out: dict[RecordKey, set[Identifier]] = {}
    for ident, keys in holders.items():
        if not any((ident, k, q) in apart for k in keys for q in keys):
            continue
        groups = _groups(sorted(keys), lambda x, y, i=ident: (i, x, y) not in apart)
        if len(groups) < 2:
            continue
        rank = {n: (len(g), -min(trust.get(k[0], worst) for k in g)) for n, g in enumerate(groups)}
        best = max(rank.values())
        for n, group in enumerate(groups):
            if rank[n] != best:
                for key in group:
                    out.setdefault(key, set()).add(ident)
    return {key: frozenset(ids) for key, ids in out.items()}


def _groups(keys: list[RecordKey], together) -> list[list[RecordKey]]:
    """Connected components of ``keys`` under the relation ``together(x, y)``."""
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if together(keys[i], keys[j]):
                parent[find(i)] = find(j)
    out: dict[int, list[RecordKey]] = {}
    for i, key in enumerate(keys):
        out.setdefault(find(i), []).append(key)
    return list(out.values())


def anchor_without(key: RecordKey, identifiers: Iterable[Identifier], withheld: Iterable[Identifier]) -> Identifier:
    """A record's anchor once ``withheld`` are out: its strongest other identifier
    (``identifiers`` ordered strongest first, as :func:`identity.records.normalize_record`
    orders them), else its own node."""
    drop = set(withheld)
    return next((i for i in identifiers if i not in drop), None) or record_node(*key)
