"""``ucid speed ...``: the speed layer's consumer and a profile lookup."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Speed layer: Kafka events -> real-time stitching and profiles in Cassandra.",
                  no_args_is_help=True)


@app.command("run")
def run(
    from_beginning: bool = typer.Option(False, "--from-beginning", help="seek every assigned partition to offset 0 (a replay; changes nothing)"),
    idle_exit: float = typer.Option(0.0, "--idle-exit", min=0, help="exit after this many idle seconds with no lag; 0 = run until SIGTERM"),
    group: str = typer.Option("", "--group", help="consumer group (default UCID_SPEED_GROUP_ID)"),
) -> None:
    """Consume the events topic as one member of the consumer group until SIGTERM / Ctrl-C.
    Offsets are committed only after every write of a batch succeeded."""
    from infra.settings import get_settings
    from speed.consumer import SpeedConsumer, TopicMissing

    settings = get_settings()
    speed = settings.speed
    if group:
        speed = speed.model_copy(update={"group_id": group})
    consumer = SpeedConsumer(settings, speed, from_beginning=from_beginning, idle_exit_s=idle_exit or None)
    try:
        stats = consumer.run()
    except TopicMissing as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"consumed": stats.consumed, "applied": stats.applied, "duplicates": stats.duplicates,
                           "dead_letters": stats.dead_letters, "outcomes": stats.outcomes}), err=True)


@app.command("profile")
def profile(
    identifier: str = typer.Argument(..., help="type:value, e.g. email:ann@example.com, or a UCID"),
) -> None:
    """Resolve an identifier (normalized like the identity core does) and print the UCID with its
    speed profile as JSON; exit 1 if it is unknown."""
    from identity.rules import load_policy
    from infra.settings import get_settings
    from infra.store import Store
    from speed.profile_store import read_profile
    from speed.resolve import resolve_identifier

    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    with Store.connect(settings.cassandra) as store:
        ucid = resolve_identifier(store, policy, identifier)
        if ucid is None:
            typer.echo(f"unknown: {identifier}", err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(read_profile(store, ucid) or {"ucid": ucid}, indent=2))
