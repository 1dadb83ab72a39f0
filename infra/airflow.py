"""Reading Airflow's metadata database after ``airflow dags test`` (which runs on SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def task_states(airflow_home: Path, dag_id: str, day: str) -> dict[str, str]:
    """``{task_id: state}`` of the run of ``dag_id`` whose logical date falls on ``day``
    (``YYYY-MM-DD``); empty if there is no such run. ``dags test`` can exit 0 with a failed
    task, so callers check these states rather than the exit code alone."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute(
            "SELECT ti.task_id, ti.state FROM task_instance ti JOIN dag_run dr ON ti.run_id = dr.run_id "
            "AND ti.dag_id = dr.dag_id WHERE dr.dag_id = ? AND date(dr.logical_date) = ?",
            (dag_id, day),
        ).fetchall()
    return {task: state or "none" for task, state in rows}
