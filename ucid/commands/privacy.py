"""``ucid privacy export | erase | finish``: subject access and erasure of one customer.

``export``:
The same function as ``GET /v1/profiles/{ucid}/export`` (:func:`serving.export.export`), through
the same store, on the same keyspace; the customer is named by UCID (a merged one exports its
survivor) or by any identifier (normalized as in resolve). The export is recorded in the audit
trail like the API's (action ``export``), with key id ``cli`` and the local user's name as the key
name. The document is printed, or written to ``--out``.

``erase``: the same erasure as ``DELETE /v1/profiles/{ucid}`` (:func:`serving.erasure.erase`:
suppression list, receipt, Cassandra rows, audit row with key id ``cli``), the customer named as
for ``export``; then at once the lake step (:func:`ucid.erasure.finish`: Delta tables, landing
files, blocking index, triggers; the VACUUM when due, or at once with ``--vacuum-now``).
``--serving-only`` stops after the serving store, as the API does. ``finish``: the lake step alone,
for the erasures made through the API (schedule it, e.g. daily; docs/privacy.md). The receipt is
printed as JSON.
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import typer

from ucid.commands.audit import check_ucid

app = typer.Typer(help="Privacy requests of a customer: subject access, erasure.", no_args_is_help=True)


def _identifier(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    id_type, sep, raw = value.partition(":")
    if not sep or not id_type or not raw:
        raise typer.BadParameter(f"{value!r}: expected TYPE:VALUE, e.g. email:jane@example.com")
    return id_type.strip(), raw


async def find(store, policy, ucid: str | None, identifier: tuple[str, str] | None):
    """``(followed, named, via)``: the live customer named by ``ucid`` or ``identifier``, how it
    was named (the UCID, or ``type:normalized value``) and the audit's ``via``. Raises
    ``LookupError`` when no live customer is found, ``ValueError`` for an identifier the type
    refuses."""
    from identity.aliases import MAX_ALIAS_HOPS
    from serving import audit, resolver

    if identifier is not None:
        try:
            found = await resolver.resolve(store, policy, identifier[0], identifier[1], MAX_ALIAS_HOPS)
        except resolver.InvalidIdentifier as exc:
            raise ValueError(str(exc)) from exc
        if found is None:
            raise LookupError(f"no customer holds {identifier[0]}:{identifier[1]}")
        return found.followed, f"{found.id_type}:{found.value}", audit.via_identifier(found.id_type)
    followed = await resolver.follow(store, ucid, MAX_ALIAS_HOPS)
    if followed is None:
        raise LookupError(f"no live customer for UCID {ucid}")
    return followed, ucid, audit.VIA_UCID


def run_on_store(settings, work, retry: str = ""):
    """``asyncio.run(work(store))`` on a store of ``settings``, closed after; a customer not
    found, a refused identifier or an unreachable Cassandra end the command with its reason."""
    from infra import cql
    from infra.store.aio import AsyncStore, StoreUnavailable

    try:
        with cql.quiet_driver():
            store = AsyncStore.connect(settings.cassandra, settings.serving)
    except StoreUnavailable as exc:
        typer.echo(f"cannot reach Cassandra: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        return asyncio.run(work(store))
    except (LookupError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    except StoreUnavailable as exc:
        typer.echo(f"Cassandra did not answer: {exc}{retry}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()


def _named(ucid: str | None, identifier: str | None) -> tuple[str | None, tuple[str, str] | None]:
    if (ucid is None) == (identifier is None):
        raise typer.BadParameter("give exactly one of --ucid and --identifier")
    return (check_ucid(ucid) if ucid is not None else None), _identifier(identifier)


async def build(store, policy, ucid: str | None, identifier: tuple[str, str] | None, key_name: str,
                schema_version: int | None) -> dict:
    """The export of the customer named by ``ucid`` or ``identifier``, recorded in the audit
    trail; raises as :func:`find`."""
    from identity.aliases import MAX_ALIAS_HOPS
    from serving import audit
    from serving.export import export

    followed, requested, via = await find(store, policy, ucid, identifier)
    doc = await export(store, followed, requested, MAX_ALIAS_HOPS, schema_version)
    await store.record_access(followed.ucid, audit.EXPORT, "cli", key_name, via,
                              ucid if ucid and ucid != followed.ucid else None)
    return doc


@app.command("export")
def export_command(
    ucid: str | None = typer.Option(None, "--ucid", help="the customer's UCID (a merged one exports its survivor)"),
    identifier: str | None = typer.Option(None, "--identifier", help="TYPE:VALUE of any identifier of the customer"),
    out: Path | None = typer.Option(None, "--out", help="write the JSON document here (default: print it)"),
) -> None:
    """Everything the serving store holds about one customer, as one JSON document."""
    from identity.rules import load_policy
    from infra.settings import get_settings
    from serving.models import SubjectExport

    ucid, named = _named(ucid, identifier)
    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")

    async def work(store) -> dict:
        version = await store.schema_version()
        return await build(store, policy, ucid, named, f"cli:{getpass.getuser()}", version)

    doc = run_on_store(settings, work)
    text = SubjectExport.model_validate(doc).model_dump_json(by_alias=True, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote the export of {doc['_id']['ucid']} to {out}", err=True)


async def erase_customer(store, policy, ucid: str | None, identifier: tuple[str, str] | None, key_name: str,
                         key: bytes) -> dict:
    """Erase the customer named by ``ucid`` or ``identifier`` from the serving store; the receipt.
    Raises as :func:`find`. (An identifier is not written into the receipt: it names the
    customer by the UCID it resolved to.)"""
    from identity.aliases import MAX_ALIAS_HOPS
    from serving.erasure import erase

    followed, requested, via = await find(store, policy, ucid, identifier)
    if identifier is not None:
        requested = followed.ucid
    return await erase(store, followed, requested, MAX_ALIAS_HOPS, key, "cli", key_name, via, segments=_segment_names())


def _segment_names() -> tuple[str, ...]:
    """The segment names of conf/segments.yaml (the erasure deletes the person's member rows)."""
    from identity.segments import load_definitions
    from infra.settings import get_settings

    path = get_settings().conf_dir / "segments.yaml"
    return tuple(sorted(load_definitions(path).segments)) if path.exists() else ()


@app.command("erase")
def erase_command(
    ucid: str | None = typer.Option(None, "--ucid", help="the customer's UCID (a merged one erases its survivor)"),
    identifier: str | None = typer.Option(None, "--identifier", help="TYPE:VALUE of any identifier of the customer"),
    vacuum_now: bool = typer.Option(False, "--vacuum-now", help="VACUUM the Delta tables at once (0 h retention, "
                                    "Delta's retention check off): the erased rows leave time travel now"),
    serving_only: bool = typer.Option(False, "--serving-only", help="only the serving store and the suppression "
                                      "list, as the API does; the lake step is left to `ucid privacy finish`"),
    out: Path | None = typer.Option(None, "--out", help="write the receipt (JSON) here (default: print it)"),
) -> None:
    """Erase one customer everywhere and suppress their identifiers for good."""
    import json

    from identity.rules import load_policy
    from infra.settings import get_settings
    from serving.models import ErasureReceipt

    ucid, named = _named(ucid, identifier)
    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    receipt = run_on_store(settings, lambda store: erase_customer(
        store, policy, ucid, named, f"cli:{getpass.getuser()}", settings.privacy.key()), "; repeat the erasure")
    doc = json.loads(ErasureReceipt.model_validate(receipt).model_dump_json())
    if not serving_only:
        from ucid.erasure import finish

        doc["lake"] = finish(settings, vacuum_now=vacuum_now, report=lambda m: typer.echo(m, err=True))
        doc["pending"] = [] if vacuum_now else ["vacuum"]
    text = json.dumps(doc, indent=2, default=str)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote the receipt of erasure {doc['erasureId']} to {out}", err=True)


@app.command("finish")
def finish_command(
    vacuum_now: bool = typer.Option(False, "--vacuum-now", help="VACUUM at once (0 h retention)"),
) -> None:
    """The lake step of every erasure on record: Delta tables, landing files, leftovers in Cassandra;
    the VACUUM once the retention allows."""
    import json

    from infra.settings import get_settings
    from ucid.erasure import finish

    removed = finish(get_settings(), vacuum_now=vacuum_now, report=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(removed, indent=2))
