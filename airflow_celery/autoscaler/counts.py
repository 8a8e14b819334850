"""The work waiting for or holding a worker slot, counted in Airflow's metadata database.

A plain SQLAlchemy query instead of Airflow's ORM: importing Airflow costs seconds and hundreds of MiB, and the
autoscaler lives inside the scheduler's task. The table, column and state names are Airflow's (TaskInstance,
ExecutorCallback, TaskInstanceState, CallbackState); tests/autoscaler/test_airflow_source.py checks them against
the pinned Airflow. Two kinds of work count:

- task instances queued or running on the queue the workers consume (`[operators] default_queue`; `airflow celery
  worker` consumes that queue only): a task routed to another queue waits for workers that are not ours, and must
  not hold the cluster at its maximum while it waits;
- executor callbacks (Airflow 3.3: deadline callbacks, rows of the `callback` table of type `executor`), which the
  scheduler sends to Celery like tasks (scheduler_job_runner.py, `_enqueue_executor_callbacks`; the celery
  executor's `_process_workloads` puts them on `[operators] default_queue` unless their data names a queue). With
  min 0 workers, an uncounted callback would wait for an unrelated task to bring a worker up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from airflow_celery.cluster.env import DEFAULT_QUEUE
from airflow_celery.cluster.scaling import Load

TASK_INSTANCE_TABLE = "task_instance"
CALLBACK_TABLE = "callback"
EXECUTOR_CALLBACK = "executor"
QUEUED, RUNNING = "queued", "running"
PENDING = "pending"
"""A callback the scheduler has not sent yet (it sends when the executor has slots): it will need a worker."""

COUNT_SQL = (
    f"SELECT state, count(*) FROM {TASK_INSTANCE_TABLE} "
    f"WHERE state IN ('{QUEUED}', '{RUNNING}') AND queue = :queue GROUP BY state"
)
CALLBACKS_SQL = (
    f"SELECT state, data FROM {CALLBACK_TABLE} "
    f"WHERE type = '{EXECUTOR_CALLBACK}' AND state IN ('{PENDING}', '{QUEUED}', '{RUNNING}')"
)


def load_from_rows(rows: Iterable[tuple[str, int]], callbacks: Iterable[tuple[str, Any]] = (), queue: str = "") -> Load:
    """Task counts by state, plus the executor callbacks bound for `queue` (a pending one counts as queued)."""
    by_state = {state: int(count) for state, count in rows}
    queued, running = by_state.get(QUEUED, 0), by_state.get(RUNNING, 0)
    for state, data in callbacks:
        if callback_queue(data, queue) != queue:
            continue
        if state == RUNNING:
            running += 1
        else:
            queued += 1
    return Load(queued=queued, running=running)


def callback_queue(data: Any, default: str) -> str:
    """The queue the celery executor sends a callback to: its data's "queue", else the default queue. The column is
    Airflow's ExtendedJSON (BaseSerialization: a dict is stored as {"__type": "dict", "__var": {...}})."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return default
    while isinstance(data, dict) and "__var" in data:
        data = data["__var"]
    queue = data.get("queue") if isinstance(data, dict) else None
    while isinstance(queue, dict) and "__var" in queue:
        queue = queue["__var"]
    return queue if isinstance(queue, str) and queue else default


def database_counter(url: str, queue: str = DEFAULT_QUEUE) -> Callable[[], Load]:
    """A function returning the current load; one short-lived connection per call (NullPool)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, connect_args=_connect_timeout(url))
    tasks, callbacks = text(COUNT_SQL), text(CALLBACKS_SQL)

    def count() -> Load:
        with engine.connect() as connection:
            rows = [(row[0], row[1]) for row in connection.execute(tasks, {"queue": queue})]
            pending = [(row[0], row[1]) for row in connection.execute(callbacks)]
        return load_from_rows(rows, pending, queue)

    return count


def _connect_timeout(url: str) -> dict[str, int]:
    """Bounded connects: a database that does not answer must not stall the loop (libpq's connect_timeout)."""
    return {"connect_timeout": 10} if url.startswith("postgresql") else {}
