"""``ucid keys create | list | revoke``: API keys of the channel systems."""

from __future__ import annotations

from contextlib import contextmanager

import typer

app = typer.Typer(help="Manage the serving API's keys (stored hashed, with scopes).", no_args_is_help=True)


@contextmanager
def _session():
    from rich.console import Console

    from infra import cql
    from infra.settings import get_settings
    from infra.store import Store

    settings = get_settings().cassandra
    try:
        with cql.quiet_driver():
            store = Store.connect(settings)
    except Exception as exc:  # NoHostAvailable and friends: say what to do, not a traceback
        Console(stderr=True).print(f"[red]cannot reach Cassandra at {settings.hosts}:[/red] {exc}")
        raise typer.Exit(1) from exc
    with store:
        yield store, settings.keyspace


def _missing_table(exc: Exception) -> bool:
    return "api_keys" in str(exc) or "unconfigured table" in str(exc)


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="who uses the key, e.g. web, app, contact-center"),
    scope: list[str] = typer.Option(..., "--scope", help="resolve, profile:read, explain, privacy:read (repeat the option)"),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from serving import keys

    try:
        keys.check_scopes(scope)
    except keys.BadKey as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with _session() as (store, keyspace):
        try:
            record, token = keys.create(store, name, scope)
        except Exception as exc:
            if _missing_table(exc):
                typer.echo(f"error: keyspace {keyspace} has no api_keys table; run `ucid stack up`", err=True)
                raise typer.Exit(1) from exc
            raise
    typer.echo(f"created key {record.key_id} for {name!r} with scopes {', '.join(sorted(record.scopes))}", err=True)
    typer.echo(token)


@app.command("list")
def list_() -> None:
    """List the keys: id, name, scopes, created, revoked (never the secret)."""
    from serving import keys

    with _session() as (store, _keyspace):
        records = keys.list_keys(store)
    for r in records:
        revoked = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
        created = f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else "-"
        typer.echo(f"{r.key_id}  {r.name:<20} {','.join(sorted(r.scopes)):<32} {created}  {revoked}")


@app.command()
def revoke(key_id: str = typer.Argument(..., help="the key id (16 hex characters)")) -> None:
    """Revoke a key (API processes stop accepting it within UCID_SERVING_KEY_CACHE_TTL_S)."""
    from serving import keys

    with _session() as (store, keyspace):
        if not keys.revoke(store, key_id):
            typer.echo(f"error: no key {key_id}", err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked {key_id}", err=True)
