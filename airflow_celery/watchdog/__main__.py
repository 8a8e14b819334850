"""`python -m airflow_celery.watchdog`: every WATCHDOG_INTERVAL seconds, read the running tasks, ask the workers what
they hold, and hand the lost tasks to the scheduler. Never crashes: a failed round is logged and the next one tries.

Its liveness file is touched only after a round that reached both the database and the broker, so a watchdog that
can do nothing looks unhealthy (roles.py, WATCHDOG)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from airflow_celery.cluster.env import (
    DATABASE_URL_VAR,
    HEARTBEAT_TIMEOUT_VAR,
    WATCHDOG_INTERVAL_VAR,
    WATCHDOG_STALE_VAR,
)
from airflow_celery.cluster.reliability import (
    TASK_HEARTBEAT_TIMEOUT,
    WATCHDOG_INSPECT_TIMEOUT,
    WATCHDOG_INTERVAL,
    WATCHDOG_MIN_STALE,
)
from airflow_celery.cluster.roles import WATCHDOG_ALIVE_VAR
from airflow_celery.watchdog.broken_dags import resume_in_flight_runs
from airflow_celery.watchdog.celery_nodes import BrokerUnreachable, NoWorkerReplied, celery_app, held_task_ids
from airflow_celery.watchdog.decision import RunningTask, Watch
from airflow_celery.watchdog.tasks import TaskTable

log = logging.getLogger("airflow_celery.watchdog")
BROKER_URL_VAR = "AIRFLOW__CELERY__BROKER_URL"
INTERVAL_VAR = WATCHDOG_INTERVAL_VAR


def one_round(
    watch: Watch,
    running: Callable[[], list[RunningTask]],
    held: Callable[[], set[str]],
    age: Callable[[list[RunningTask]], list[RunningTask]],
) -> bool:
    """Read, ask, decide, act. True when the round reached the database and the broker."""
    try:
        tasks = running()  # first: a task that starts after this read cannot look unheld in this round
        holding = held()
    except BrokerUnreachable as error:
        watch.broker_unreachable()
        log.warning("broker unreachable, this round counts for nothing: %s", error)
        return False
    except NoWorkerReplied as error:
        log.info("%s: this round decides nothing and counts nothing", error)
        return True  # the database and the broker were both reached: the watchdog itself is healthy
    except Exception as error:
        log.warning("round failed, retrying next round: %s: %s", type(error).__name__, error)
        return False
    lost = watch.observe(tasks, holding)
    for task, count in watch.suspects:
        log.info("%s (Celery task %s): held by no live worker for %d of %d rounds, last heartbeat %.0f s ago",
                 task.label or task.ti_id, task.celery_id, count, watch.rounds, task.heartbeat_age)  # fmt: skip
    if lost:
        for task in age(lost):
            log.warning(
                "lost: %s (Celery task %s) held by no live worker for %d rounds, last heartbeat %.0f s ago: aged "
                "past the heartbeat timeout, the scheduler fails it (and retries it if it has a try left)",
                task.label or task.ti_id, task.celery_id, watch.rounds, task.heartbeat_age,
            )  # fmt: skip
    return True


def resume_broken(resume: Callable[[], list[str]]) -> list[str]:
    """Runs in flight of a DAG whose file broke keep their version (broken_dags.py); a failure costs this round only
    and leaves the watchdog's health to `one_round`."""
    try:
        cleared = resume()
    except Exception as error:
        log.warning("in-flight runs of broken DAGs: round failed, retrying next round: %s: %s",
                    type(error).__name__, error)  # fmt: skip
        return []
    for dag_id in cleared:
        log.info(
            "%s: its file fails to parse at the current version and runs of an earlier version are in flight: "
            "cleared the stale flag Airflow set, so the scheduler finishes them on their own version", dag_id
        )  # fmt: skip
    return cleared


def touch(path: str) -> None:
    try:
        Path(path).touch()
    except OSError as error:
        log.warning("cannot touch the liveness file %s: %s", path, error)


def main(env: Mapping[str, str] | None = None, rounds: int | None = None) -> int:
    env = os.environ if env is None else env
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for variable in (DATABASE_URL_VAR, BROKER_URL_VAR):
        if not env.get(variable):
            print(f"{variable} is not set: the watchdog needs the database and the broker", file=sys.stderr)
            return 78
    stale = float(env.get(WATCHDOG_STALE_VAR, WATCHDOG_MIN_STALE))
    timeout = int(env.get(HEARTBEAT_TIMEOUT_VAR, TASK_HEARTBEAT_TIMEOUT))
    interval = float(env.get(INTERVAL_VAR, WATCHDOG_INTERVAL))
    alive = env.get(WATCHDOG_ALIVE_VAR, "/tmp/watchdog.alive")
    table, app = TaskTable(env[DATABASE_URL_VAR]), celery_app(env[BROKER_URL_VAR])
    watch = Watch(stale_after=stale)
    log.info("watching: a running task held by no worker for %d rounds of %.0f s, heartbeat older than %.0f s, is "
             "handed to the scheduler", watch.rounds, interval, stale)  # fmt: skip
    done = 0
    while rounds is None or done < rounds:
        started = time.monotonic()
        ok = one_round(
            watch,
            table.running,
            lambda: held_task_ids(app, WATCHDOG_INSPECT_TIMEOUT),
            lambda lost: table.age(lost, timeout, stale),
        )
        if ok:
            touch(alive)
        resume_broken(lambda: resume_in_flight_runs(table.engine))
        done += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
