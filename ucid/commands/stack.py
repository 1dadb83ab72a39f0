"""``ucid stack up | down | status | logs``: the local Kafka + Cassandra stack."""

from __future__ import annotations

import os
import time
from enum import Enum

import typer
from rich.console import Console
from rich.table import Table

from infra.settings import get_settings

app = typer.Typer(help="Start, stop and inspect the local stack (Kafka, Cassandra, Delta jars).",
                  no_args_is_help=True)
console = Console(stderr=True)


class Service(str, Enum):
    kafka = "kafka"
    cassandra = "cassandra"


def _report(message: str) -> None:
    console.log(message)


NODES = typer.Option(
    None, "--nodes", min=1, max=9,
    help="nodes of the local stack (sets UCID_STACK_NODES): 3 = three Cassandra nodes and three Kafka brokers "
         "on 127.0.0.1-3, replication 3, LOCAL_QUORUM, Spark as local-cluster; unset = UCID_STACK_NODES (1)",
)


def _settings(nodes: int | None):
    if nodes is not None:
        os.environ["UCID_STACK_NODES"] = str(nodes)
    return get_settings()


@app.command()
def up(nodes: int | None = NODES) -> None:
    """Fetch what is missing, start Kafka and Cassandra, apply the schema, create the topics."""
    from infra.stack import StackError
    from infra.stack import up as stack_up

    settings = _settings(nodes)
    started = time.monotonic()
    try:
        with console.status("bringing the stack up…"):
            stack_up(settings, _report)
    except StackError as exc:
        console.print(f"[red]stack up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]stack up[/green] ({settings.stack_nodes} node{'s' if settings.stack_nodes > 1 else ''}) "
                  f"in {time.monotonic() - started:.0f} s — "
                  f"Kafka {settings.kafka.bootstrap_servers}, "
                  f"Cassandra {','.join(settings.cassandra.hosts)}:{settings.cassandra.port} "
                  f"keyspace {settings.cassandra.keyspace}")


@app.command()
def down(nodes: int | None = NODES) -> None:
    """Stop the servers `up` started (every node that runs); their data stays for the next `up`."""
    from infra.stack import down as stack_down

    stack_down(_settings(nodes), _report)


@app.command()
def status(nodes: int | None = NODES) -> None:
    """Show each server: pid, whether it answers, its log file. Exit 1 if one is down."""
    from infra.stack import status as stack_status

    rows = stack_status(_settings(nodes))
    table = Table("service", "pid", "answering", "log")
    for row in rows:
        pid = "external" if row.external else (str(row.pid) if row.pid else "-")
        table.add_row(row.name, pid, "yes" if row.answering else "no", row.log_file)
    Console().print(table)
    if not all(r.answering for r in rows):
        raise typer.Exit(1)


@app.command()
def logs(
    service: Service = typer.Argument(..., help="which server's log"),
    lines: int = typer.Option(40, "-n", "--lines", help="how many lines"),
    follow: bool = typer.Option(False, "-f", "--follow", help="keep printing new lines"),
    node: int = typer.Option(1, "--node", min=1, max=9, help="which node of a multi-node stack (1 = the first)"),
) -> None:
    """Print the end of a server's log (and follow it with -f)."""
    from infra import cassandra, kafka, proc

    settings = get_settings()
    module = {"kafka": kafka, "cassandra": cassandra}[service.value]
    path = module.managed(settings, node - 1).log_file
    typer.echo(proc.tail(path, lines))
    if follow:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            try:
                while True:
                    chunk = fh.read()
                    if chunk:
                        typer.echo(chunk.decode(errors="replace"), nl=False)
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
