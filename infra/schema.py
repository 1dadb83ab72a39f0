"""Schema as code: versioned CQL migrations, applied in order and recorded in the keyspace.

Migrations are ``infra/cql/NNN_name.cql``. Each is applied once; its checksum is recorded in
``schema_migrations`` and an edited migration that was already applied is an error (add a new one
instead). Replication comes from settings, so the same files run on a multi-node cluster.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.settings import CassandraSettings

CQL_DIR = Path(__file__).resolve().parent / "cql"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.cql$")


class MigrationError(RuntimeError):
    """The schema on the cluster does not match the migrations in the repo."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def statements(self, keyspace: str) -> list[str]:
        text = "\n".join(line for line in self.path.read_text().splitlines() if not line.strip().startswith("--"))
        return [s.strip().replace("{keyspace}", keyspace) for s in text.split(";") if s.strip()]


def migrations(folder: Path = CQL_DIR) -> list[Migration]:
    """The migrations in the repo, in version order; versions must be unique and gap-free."""
    found = []
    for path in sorted(folder.glob("*.cql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.cql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..N without gaps, found {versions}")
    return found


def replication_cql(replication: dict[str, str | int]) -> str:
    # CQL map literals use single quotes; json.dumps gives double quotes
    return json.dumps({k: str(v) for k, v in replication.items()}).replace('"', "'")


def apply(session, settings: CassandraSettings, folder: Path = CQL_DIR) -> list[Migration]:
    """Create the keyspace if needed and apply the pending migrations; return those applied."""
    ks = settings.keyspace
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {replication_cql(settings.replication)}"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {ks}.schema_migrations ("
        "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
    )
    done = {row.version: row for row in session.execute(f"SELECT version, name, checksum FROM {ks}.schema_migrations")}
    applied = []
    for migration in migrations(folder):
        recorded = done.get(migration.version)
        if recorded is not None:
            if recorded.checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.path.name} changed after it was applied to keyspace {ks}; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in migration.statements(ks):
            session.execute(statement, timeout=60)
        session.execute(
            f"INSERT INTO {ks}.schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, %s)",
            (migration.version, migration.name, migration.checksum, datetime.now(UTC)),
        )
        applied.append(migration)
    return applied


def current_version(session, keyspace: str) -> int:
    """The highest applied migration version (0 if none)."""
    rows = list(session.execute(f"SELECT version FROM {keyspace}.schema_migrations"))
    return max((r.version for r in rows), default=0)
