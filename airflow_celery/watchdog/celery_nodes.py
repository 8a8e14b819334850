"""What the live Celery workers run, asked through the broker: Celery's remote control, no Airflow import.

`inspect active` is answered by each worker's main process from its own bookkeeping (celery/worker/control.py,
`active`: the requests its pool runs), so a busy pool does not delay it. The broker is reached first with one
bounded connection attempt: when that fails, the round knows nothing (BrokerUnreachable), which is different from
"no worker answered". And "no worker answered" is itself not evidence: every worker busy past the timeout, or all
of them restarting, look the same as all of them gone (NoWorkerReplied).
"""

from __future__ import annotations

from typing import Any

APP_NAME = "airflow-celery-watchdog"


class BrokerUnreachable(Exception):
    """The broker did not accept a connection: the workers' silence says nothing this round."""


class NoWorkerReplied(Exception):
    """The broker answered but no worker did. A lost task is one that no *live* worker holds; with no reply at all
    there is no live worker to compare against (a single worker starved of CPU, or every worker restarting, is
    silent too), so the round decides nothing. A worker that is really gone is replaced (ECS, supervisord), and
    the first round its replacement answers finds the lost tasks."""


def celery_app(broker_url: str) -> Any:
    """A bare Celery app on the cluster's broker (a `rediss://` URL's ssl options are read from its query by
    kombu); remote control needs no task and no Airflow configuration."""
    from celery import Celery

    return Celery(APP_NAME, broker=broker_url, set_as_current=False)


def held_task_ids(app: Any, timeout: float) -> set[str]:
    """The Celery task ids that every worker replying within `timeout` seconds is running; NoWorkerReplied when the
    broker answered and no worker did."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            replies = app.control.inspect(timeout=timeout, connection=connection).active() or {}
    except Exception as error:  # kombu raises OperationalError and friends, depending on the transport
        raise BrokerUnreachable(f"{type(error).__name__}: {error}") from error
    if not replies:
        raise NoWorkerReplied(f"no worker replied within {timeout:.0f} s")
    return {task["id"] for tasks in replies.values() for task in tasks or () if task.get("id")}
