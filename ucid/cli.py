"""The ``ucid`` command line: one entry point, one sub-command per job.

Sub-commands live in ``ucid/commands/``; heavy imports (Spark, Kafka, Cassandra) happen inside
the commands, so ``ucid --help`` stays fast and nothing connects at import time.
"""

from __future__ import annotations

import typer

from ucid.commands import (
    audit,
    batch,
    demo,
    evaluate,
    generate,
    keys,
    model,
    privacy,
    produce,
    resolve,
    segments,
    serve,
    settings_cmd,
    sources,
    speed,
    stack,
    validate,
)

app = typer.Typer(
    name="ucid",
    help="ucid: one stable unique customer id and a 360 profile per person.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _setup() -> None:
    """Configure structured logging from the settings before any sub-command runs."""
    from infra.log import configure
    from infra.settings import get_settings

    settings = get_settings()
    configure(settings.log_level, settings.log_format)


app.add_typer(stack.app, name="stack")
app.command("settings")(settings_cmd.show)
app.command("generate")(generate.generate)
app.command("resolve")(resolve.resolve)
app.add_typer(sources.app, name="sources")
app.command("evaluate")(evaluate.evaluate)
app.add_typer(model.app, name="model")
app.add_typer(speed.app, name="speed")
app.command("produce")(produce.produce)
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
app.command("audit")(audit.audit)
app.add_typer(privacy.app, name="privacy")
app.add_typer(batch.app, name="batch")
app.add_typer(batch.export_app, name="export")
app.add_typer(segments.app, name="segments")
app.command("validate")(validate.validate)
app.command("demo")(demo.demo)


if __name__ == "__main__":  # pragma: no cover
    app()
