"""The landing layout of every generated source: format, record id, columns and their types.

One table, read by the writers, the docs and the tests; ``conf/sources/<name>.yaml`` describes
the same sources to the resolver (a test checks that every column a YAML reads exists here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

_TS = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    format: str  # csv | jsonl | parquet
    record_id: str
    id_prefix: str  # prefix of generated record ids (natural keys are used where they exist)
    columns: tuple[str, ...]
    # time columns hold epoch ms in memory; written as: iso (2026-01-03T08:15:02.123Z), sql
    # (2026-01-03 08:15:02), date (2026-01-03); parquet writes timestamps / dates instead
    times: dict[str, str] = field(default_factory=dict)
    arrow: dict[str, pa.DataType] = field(default_factory=dict)  # parquet types; default string

    @property
    def extension(self) -> str:
        return self.format

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, self.arrow.get(c, pa.string())) for c in self.columns])


SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        SourceSpec(
            "crm", "csv", "change_id", "CHG",
            ("change_id", "change_type", "crm_id", "first_name", "last_name", "gender", "birth_date",
             "email", "alt_email", "phone", "address_line", "city", "state", "postal_code",
             "country", "customer_since", "updated_at"),
            times={"customer_since": "date", "updated_at": "sql"},
        ),
        SourceSpec(
            "billing", "parquet", "billing_account", "",
            ("billing_account", "crm_id", "holder_name", "email", "phone", "billing_address",
             "city", "state", "postal_code", "plan", "monthly_amount", "currency",
             "payment_method", "last_payment_amount", "last_payment_date", "balance_due",
             "status", "opened_at", "updated_at"),
            arrow={"monthly_amount": pa.float64(), "last_payment_amount": pa.float64(),
                   "balance_due": pa.float64(), "last_payment_date": pa.date32(),
                   "opened_at": _TS, "updated_at": _TS},
        ),
        SourceSpec(
            "loyalty", "jsonl", "loyalty_id", "",
            ("loyalty_id", "first_name", "last_name", "email", "phone", "birth_date",
             "postal_code", "tier", "points", "enrolled_at", "updated_at"),
            times={"enrolled_at": "iso", "updated_at": "iso"},
        ),
        SourceSpec(
            "consents", "jsonl", "consent_id", "CNS",
            ("consent_id", "crm_id", "email", "captured_at", "capture_channel",
             "marketing_email", "sms", "phone"),
            times={"captured_at": "iso"},
        ),
        SourceSpec(
            "contact_center", "csv", "interaction_id", "IX",
            ("interaction_id", "started_at", "ended_at", "duration_s", "channel", "queue", "reason", "outcome",
             "agent_id", "caller_phone", "crm_id", "loyalty_id", "email"),
            times={"started_at": "iso", "ended_at": "iso"},
        ),
        SourceSpec(
            "email_campaigns", "csv", "event_id", "ESP",
            ("event_id", "campaign_id", "campaign_name", "email", "event_type", "event_time",
             "link_url"),
            times={"event_time": "iso"},
        ),
        SourceSpec(
            "web", "jsonl", "event_id", "WEB",
            ("event_id", "event_time", "cookie_id", "session_id", "event_type", "page", "crm_id",
             "email", "product", "amount", "currency", "user_agent"),
            times={"event_time": "iso"},
        ),
        SourceSpec(
            "app", "parquet", "event_id", "APP",
            ("event_id", "event_time", "device_id", "platform", "app_version", "session_id",
             "event_type", "screen", "crm_id", "email", "product", "amount", "currency"),
            arrow={"event_time": _TS, "amount": pa.float64()},
        ),
    )
}


HARD_CASE_SOURCES: dict[str, SourceSpec] = {
    "store": SourceSpec(
        "store", "csv", "store_reg_id", "STR",
        ("store_reg_id", "store_id", "registered_at", "first_name", "last_name", "birth_date",
         "address_line", "city", "state", "postal_code", "phone", "email", "loyalty_number"),
        times={"registered_at": "sql"},
    ),
}
"""Sources written only with ``--hard-cases`` (ucid/generate/hard.py)."""

ALL_SOURCES: dict[str, SourceSpec] = {**SOURCES, **HARD_CASE_SOURCES}
