"""Queued and running task instances, counted in Airflow's metadata database.

A plain SQLAlchemy query instead of Airflow's ORM: importing Airflow costs seconds and hundreds of MiB, and the
autoscaler lives inside the scheduler's task. The table and state names are Airflow's (TaskInstance.__tablename__,
TaskInstanceState); tests/autoscaler/test_counts.py checks them against the pinned Airflow.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_celery.cluster.scaling import Load

TASK_INSTANCE_TABLE = "task_instance"
QUEUED, RUNNING = "queued", "running"
COUNT_SQL = f"SELECT state, count(*) FROM {TASK_INSTANCE_TABLE} WHERE state IN ('{QUEUED}', '{RUNNING}') GROUP BY state"


def load_from_rows(rows: list[tuple[str, int]]) -> Load:
    by_state = {state: int(count) for state, count in rows}
    return Load(queued=by_state.get(QUEUED, 0), running=by_state.get(RUNNING, 0))


def database_counter(url: str) -> Callable[[], Load]:
    """A function returning the current load; one short-lived connection per call (NullPool)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, connect_args=_connect_timeout(url))
    query = text(COUNT_SQL)

    def count() -> Load:
        with engine.connect() as connection:
            return load_from_rows([(row[0], row[1]) for row in connection.execute(query)])

    return count


def _connect_timeout(url: str) -> dict[str, int]:
    """Bounded connects: a database that does not answer must not stall the loop (libpq's connect_timeout)."""
    return {"connect_timeout": 10} if url.startswith("postgresql") else {}
