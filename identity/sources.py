"""Source definitions: how one landing source maps onto identifiers, attributes and events.

A new source is onboarded by writing a YAML file (see ``conf/sources/``), not code. The model is
strict (unknown keys are errors) so that a wrong definition fails at load with a message naming
the file, the field and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


# the file name extensions of each landing file format (a Delta source is a table, not files)
FILE_EXTENSIONS = {"csv": ("csv",), "jsonl": ("jsonl", "json", "ndjson"), "parquet": ("parquet",)}


class SourceDefinitionError(ValueError):
    """A source definition file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentifierColumn(_Strict):
    """One column of the source that holds an identifier of a registered type."""

    column: str = Field(min_length=1, description="source column holding the identifier value",
                        examples=["email"])
    type: str = Field(
        min_length=1, examples=["email"],
        description="identifier type: a type of conf/rules.yaml (email, phone, crm_id, ...), which says "
        "how values are normalized, validated and linked",
    )


class SourceDefinition(_Strict):
    """Everything ucid needs to read one source and turn its rows into identity records."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", examples=["crm"],
        description="unique source name: the `source` of every record, bronze table and assignment row",
    )
    description: str = Field("", examples=["CRM customers (change extract)"], description="free text for people")
    location: str = Field(
        min_length=1, examples=["crm"],
        description="folder under the landing dir holding the source's files (read recursively: every "
        "`*.<format extension>`, hidden and `_` paths skipped); for `delta`, the Delta table's folder",
    )
    format: Literal["csv", "jsonl", "parquet", "delta"] = Field(
        examples=["csv"],
        description="file format: csv (header row, UTF-8), jsonl (one JSON object per line; .jsonl, .json, "
        ".ndjson), parquet, delta (a Delta table, each new version taken whole; batch only)",
    )
    record_id: str = Field(
        min_length=1, examples=["change_id"],
        description="column that identifies a row within the source; a row without it is skipped (quarantined)",
    )
    priority: int = Field(
        ge=1, le=1000, examples=[1],
        description="survivorship priority: 1 is the most trusted (wins for attributes ruled source_priority)",
    )
    kind: Literal["profile", "event"] = Field(
        "profile", examples=["event"],
        description="profile: rows describe a customer (their attributes feed the 360 profile); event: rows "
        "are interactions (timeline, channel counts, spend)",
    )
    event_time: str | None = Field(
        None, examples=["updated_at"],
        description="column with the row's event / update time (ISO-8601; batch quarantines a row whose "
        "time does not parse); required for event sources; most_recent survivorship compares it",
    )
    event_type: str | None = Field(
        None, examples=["event_type"], description="column naming the event type (event sources)"
    )
    event_types: dict[str, str] = Field(
        default_factory=dict, examples=[{"voice": "call", "chat": "chat"}],
        description="source's event type value -> ucid's event type (the stream's vocabulary: "
        "email_open, call, ...); values not listed are kept as they are",
    )
    channel: str | None = Field(
        None, examples=["web"], description="fixed channel name of the source's events"
    )
    channel_column: str | None = Field(
        None, examples=["channel"],
        description="column naming each event's channel, for sources carrying several (not with 'channel')",
    )
    identifiers: list[IdentifierColumn] = Field(
        min_length=1, examples=[[{"column": "crm_id", "type": "crm_id"}, {"column": "email", "type": "email"}]],
        description="identifier columns and their types (see the identifiers table below); a column at most once",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict, examples=[{"first_name": "first_name", "address": "address_line"}],
        description="profile attribute name -> source column",
    )
    measures: dict[str, str] = Field(
        default_factory=dict, examples=[{"amount": "amount"}],
        description="numeric measure name (amount, ...) -> source column; values that are not numbers are dropped",
    )
    consents: dict[str, str] = Field(
        default_factory=dict, examples=[{"marketing_email": "marketing_email"}],
        description="consent / preference name -> source column (the latest value per customer wins)",
    )
    required: list[str] = Field(
        default_factory=list, examples=[["change_id", "updated_at"]],
        description="columns that must be present and non-empty in a row (else the row is skipped / quarantined)",
    )

    @field_validator("identifiers")
    @classmethod
    def _unique_identifier_columns(cls, value: list[IdentifierColumn]) -> list[IdentifierColumn]:
        seen = [c.column for c in value]
        dupes = sorted({c for c in seen if seen.count(c) > 1})
        if dupes:
            raise ValueError(f"column(s) mapped twice: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _record_id_required(self) -> SourceDefinition:
        if self.kind == "event" and not self.event_time:
            raise ValueError("an event source needs 'event_time'")
        if self.channel and self.channel_column:
            raise ValueError("give either 'channel' (fixed) or 'channel_column', not both")
        if self.event_types and not self.event_type:
            raise ValueError("'event_types' maps the values of the 'event_type' column: name that column")
        return self

    def needed_columns(self) -> list[str]:
        """The columns every file must hold, in order: record id, identifier columns, required
        (the batch layer quarantines a file without one; ``ucid resolve --local`` stops on it)."""
        return list(dict.fromkeys([self.record_id, *(c.column for c in self.identifiers), *self.required]))

    def columns(self) -> set[str]:
        """Every source column this definition reads."""
        cols = set(self.needed_columns())
        cols |= set(self.attributes.values()) | set(self.measures.values()) | set(self.consents.values())
        for optional in (self.event_time, self.event_type, self.channel_column):
            if optional:
                cols.add(optional)
        return cols


def load_source(path: Path, known_types: set[str] | None = None) -> SourceDefinition:
    """Load and validate one source definition; errors name the file, the field and the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceDefinitionError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourceDefinitionError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SourceDefinitionError(f"{path}: expected a mapping at the top level")
    try:
        source = SourceDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '<root>'}': {err['msg']}"
            for err in exc.errors()
        )
        raise SourceDefinitionError(f"{path}: {problems}") from exc
    if known_types is not None:
        for col in source.identifiers:
            if col.type not in known_types:
                raise SourceDefinitionError(
                    f"{path}: field 'identifiers.{col.column}.type': unknown identifier type "
                    f"'{col.type}' (known: {', '.join(sorted(known_types))})"
                )
    return source


def load_sources(folder: Path, known_types: set[str] | None = None) -> list[SourceDefinition]:
    """Load every ``*.yaml`` in ``folder``, sorted by name; source names must be unique."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise SourceDefinitionError(f"{folder}: no source definitions (*.yaml) found")
    sources = [load_source(f, known_types) for f in files]
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceDefinitionError(f"{folder}: duplicate source name(s): {', '.join(dupes)}")
    return sources
