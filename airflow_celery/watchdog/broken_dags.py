"""Runs in flight when a commit (or an archive) breaks their DAG's file finish on the version they started with.

Airflow 3.3.2 deactivates a DAG whose file fails to parse: `_update_import_errors` (dag_processing/collection.py)
sets `is_stale` on every DAG of that file, again at each parse of it, and the scheduler then examines no run of a
stale DAG (`DagRun.get_running_dag_runs_to_examine` and `get_queued_dag_runs_to_set_running`, models/dagrun.py,
filter on `DagModel.is_stale == false()`). A run in flight stays `running` with its next task never scheduled,
until a commit that parses lands. No Airflow setting changes this (tests/watchdog/test_airflow_source.py; the
rule run with Airflow's own functions: tests/watchdog/test_broken_dags_airflow.py).

With a versioned bundle (git, s3) that run does not need the broken file: its `bundle_version` is the commit it was
created on, and the worker checks out exactly that (task_runner.parse). So each watchdog round clears `is_stale`
again for a DAG that has such a run, and only while:

- its file still exists and fails to parse: an `import_error` row names that file in that bundle (Airflow deletes
  the row of a deleted file, `clear_orphaned_import_errors`, so a deleted file's DAGs stay stale as Airflow wants);
- it has a queued or running run with a `bundle_version` (a versioned bundle; with `image` the worker would parse
  the broken file itself, so Airflow's pause is kept).

`has_import_errors` stays set: the UI shows the error, the API refuses a new trigger (400, "has import errors"),
and the scheduler creates no new run (`DagModel.dags_needing_dagruns` filters on it). When the last such run ends,
this stops, and Airflow's next parse of the file makes the DAG stale again (a trigger then gets 404). Until this
round runs again after each of those parses (every `[dag_processor] min_file_process_interval`, 30 s), the
scheduler waits: a task transition is late by about one watchdog round at most.

Plain SQL on Airflow's tables, no Airflow import, like watchdog/tasks.py; the names are checked against the pinned
Airflow in tests/watchdog/test_airflow_source.py.
"""

from __future__ import annotations

from typing import Any

RESUME_SQL = """
UPDATE dag SET is_stale = false
WHERE is_stale = true AND has_import_errors = true
  AND EXISTS (
    SELECT 1 FROM import_error
    WHERE import_error.bundle_name = dag.bundle_name AND import_error.filename = dag.relative_fileloc
  )
  AND EXISTS (
    SELECT 1 FROM dag_run
    WHERE dag_run.dag_id = dag.dag_id AND dag_run.state IN ('queued', 'running')
      AND dag_run.bundle_version IS NOT NULL
  )
RETURNING dag_id
"""
"""One statement, so a DAG is cleared only if every condition holds at that moment (portable SQL: PostgreSQL in the
cluster, SQLite in the Airflow test)."""


LOCK_TIMEOUT_MS = 2000


def resume_in_flight_runs(engine: Any) -> list[str]:
    """Clear `is_stale` of each DAG whose file fails to parse while runs of a versioned bundle are in flight; the
    dag_ids cleared in this call."""
    from sqlalchemy import text

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # The dag-processor holds these rows briefly while it writes a parse; never wait on it for a round.
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
        return sorted(row[0] for row in connection.execute(text(RESUME_SQL)))
