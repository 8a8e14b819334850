"""Running task instances and the aging of a lost one's heartbeat: plain SQL on Airflow's metadata database.

No Airflow import (seconds and hundreds of MiB, inside the scheduler's task). The table, columns and state are
Airflow's; tests/watchdog/test_airflow_source.py checks them against the pinned Airflow. Times come from the
database's clock (`now()`), the one the api-server stamps heartbeats with, never from this host's.
"""

from __future__ import annotations

from typing import Any

from airflow_celery.watchdog.decision import RunningTask

RUNNING_SQL = """
SELECT id, external_executor_id, EXTRACT(EPOCH FROM (now() - COALESCE(last_heartbeat_at, start_date))),
       dag_id || '.' || task_id || ' ' || run_id || ' try ' || try_number
FROM task_instance
WHERE state = 'running' AND COALESCE(last_heartbeat_at, start_date) IS NOT NULL
"""
AGE_SQL = """
UPDATE task_instance
SET last_heartbeat_at = COALESCE(last_heartbeat_at, start_date) - :timeout * INTERVAL '1 second'
WHERE id = CAST(:ti_id AS uuid) AND state = 'running'
  AND COALESCE(last_heartbeat_at, start_date) < now() - :stale * INTERVAL '1 second'
"""
"""Ages the last heartbeat by the heartbeat timeout, only if the task is still running and still stale (a heartbeat
that arrived since the round read it wins): the scheduler's next heartbeat check
(`_find_task_instances_without_heartbeats`, `last_heartbeat_at < now - timeout`) then fails it."""


class TaskTable:
    def __init__(self, url: str, engine: Any = None):
        if engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
            engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self.engine = engine

    def running(self) -> list[RunningTask]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            rows = connection.execute(text(RUNNING_SQL)).all()
        return [RunningTask(str(row[0]), row[1], float(row[2]), row[3] or "") for row in rows]

    def age(self, tasks: list[RunningTask], timeout: int, stale: float) -> list[RunningTask]:
        """Age each task's heartbeat; returns those actually aged (still running and stale)."""
        from sqlalchemy import text

        aged = []
        with self.engine.begin() as connection:
            for task in tasks:
                result = connection.execute(text(AGE_SQL), {"ti_id": task.ti_id, "timeout": timeout, "stale": stale})
                if result.rowcount:
                    aged.append(task)
        return aged
