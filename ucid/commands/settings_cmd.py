"""``ucid settings``: the settings in force, with where each comes from."""

from __future__ import annotations

import json

import typer

from infra.settings import get_settings


def show(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Print the settings in force (environment variables with the UCID_ prefix, .env)."""
    s = get_settings()
    data = {
        "paths": {"home": str(s.home), "cache": str(s.cache), "data": str(s.data), "logs": str(s.logs),
                  "lake": str(s.lake), "conf": str(s.conf_dir), "stack_nodes": s.stack_nodes},
        "kafka": s.kafka.model_dump(exclude={"password"}),
        "cassandra": s.cassandra.model_dump(exclude={"password"}),
        "spark": s.spark.model_dump(),
        "batch": s.batch.model_dump(),
        "speed": {**s.speed.model_dump(), "schema_file": s.speed.schema_path(s.conf_dir),
                  "triggers_file": s.speed.triggers_path(s.conf_dir)},
        "serving": s.serving.model_dump(),
        "match": {**s.match.model_dump(), "spec_file": s.match.spec_path(s.conf_dir)},
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    for section, values in data.items():
        typer.echo(f"[{section}]")
        for key, value in values.items():
            typer.echo(f"  {key} = {value}")
