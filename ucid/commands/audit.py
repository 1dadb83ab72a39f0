"""``ucid audit --ucid U``: who read a customer's data through the API, newest first.

Reads the audit trail (``audit_by_ucid``, written by the API before each profile, timeline and
explain answer: :mod:`serving.audit`). A read of a UCID merged away is listed under the survivor
it was served as, with the UCID asked for in ``requested UCID``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import typer

COLUMNS = ("at", "action", "key_id", "key_name", "via", "requested_ucid")


def check_ucid(value: str) -> str:
    """``value`` if it is a well-formed UCID (``identity.ucids.UCID_PATTERN``), else a usage error
    (exit 2) saying what a UCID looks like."""
    from identity.ucids import UCID_PATTERN

    value = value.strip()
    if not re.fullmatch(UCID_PATTERN, value):
        raise typer.BadParameter(f"{value!r} is not a UCID: 'U' and 20 characters of Crockford base 32 "
                                 "(digits and capitals without I, L, O, U), e.g. U000Q14HAKJC65G9M758H")
    return value


def entry(row: Any) -> dict[str, Any]:
    """One audit row (a named tuple of the ``get_audit`` read) as plain JSON-able values; ``at``
    is the time of the row's timeuuid, UTC ISO 8601 with milliseconds."""
    from cassandra.util import unix_time_from_uuid1

    at = datetime.fromtimestamp(unix_time_from_uuid1(row.at), UTC)
    return {"ucid": row.ucid, "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "id": str(row.at), **{c: getattr(row, c) for c in COLUMNS[1:]}}


def audit(
    ucid: str = typer.Option(..., "--ucid", callback=check_ucid, help="the customer's UCID"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="at most this many rows, newest first"),
    as_json: bool = typer.Option(False, "--json", help="print the rows as a JSON list"),
) -> None:
    """List the recorded reads of one customer's data: when, what, which API key, how addressed."""
    from rich.console import Console
    from rich.table import Table

    from infra import cql
    from infra.settings import get_settings
    from infra.store import Store

    settings = get_settings().cassandra
    err = Console(stderr=True)
    try:
        with cql.quiet_driver():
            store = Store.connect(settings)
    except Exception as exc:  # NoHostAvailable and friends: say what to do, not a traceback
        err.print(f"[red]cannot reach Cassandra at {settings.hosts}:[/red] {exc}")
        raise typer.Exit(1) from exc
    with store, cql.quiet_driver():  # a missing table is told below, without the driver's traceback
        try:
            rows = [entry(r) for r in store.all("get_audit", ucid, limit)]
        except Exception as exc:
            if "audit_by_ucid" in str(exc) or "unconfigured table" in str(exc):
                err.print(f"[red]keyspace {settings.keyspace} has no audit_by_ucid table:[/red] run `ucid stack up`")
                raise typer.Exit(1) from exc
            raise
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        err.print(f"no recorded read of {ucid} in keyspace {settings.keyspace}")
        return
    table = Table(title=f"audit trail of {ucid}, newest first ({len(rows)} rows)")
    for header in ("when (UTC)", "action", "key id", "key name", "via", "requested UCID"):
        table.add_column(header, overflow="fold")  # a narrow terminal wraps values, never cuts them
    for r in rows:
        table.add_row(r["at"], r["action"], r["key_id"], r["key_name"], r["via"], r["requested_ucid"] or "-")
    out = Console()
    (out if out.is_terminal else Console(width=160)).print(table)  # piped: one line per row
