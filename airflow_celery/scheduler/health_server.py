"""The scheduler's health endpoint (`GET :8974/health`, `[scheduler] enable_health_check`) from a thread of the
scheduler's own process, instead of a forked copy of it.

Airflow 3.3.2's `airflow scheduler` starts the health server as a `multiprocessing.Process` (cli/commands/
scheduler_command.py, `_serve_health_check`): a fork of the whole scheduler, Airflow and the Celery executor
imported, kept only to answer that one GET. Measured on a local cluster at idle (1 worker x 4, 2026-12-07): the
fork held 28 MiB of its own (pages the scheduler wrote after the fork, that only the fork still maps), and the
scheduler's process tree took 178 MiB PSS with it, 148 MiB without.

`serve_in_a_thread` has `_serve_health_check`'s signature and serves Airflow's own request handler
(`airflow.utils.scheduler_health.HealthServer`: 200 while this host's latest SchedulerJob is alive, else 503) on the
same host and port settings, from a daemon thread; the server is shut down when the scheduler's job ends. What the
check answers is unchanged: it reads the heartbeat the scheduler's loop writes to the database, not whether the
process answers. A port already taken fails the scheduler's start, where Airflow's fork would die alone and leave a
scheduler without its health check.

`install()` puts it in place of `_serve_health_check` in the scheduler command's module, when that module is
loaded: the scheduler's Celery config module (config.py) calls it while `_run_scheduler_job` builds the
SchedulerJobRunner (its executors' import), before that function enters `_serve_health_check`, which it looks up
by name. tests/scheduler/test_health_server_airflow.py runs `_run_scheduler_job` itself, with and without it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("airflow_celery.scheduler")

SCHEDULER_COMMAND = "airflow.cli.commands.scheduler_command"
INSTALLED = "_airflow_celery_health_in_a_thread"
"""Set on `serve_in_a_thread`: the command module's `_serve_health_check` is ours when it carries it."""


@contextmanager
def serve_in_a_thread(enable_health_check: bool = False) -> Iterator[None]:
    """Airflow's health server, on its configured host and port, from a daemon thread while the block runs."""
    if not enable_health_check:
        yield
        return
    from http.server import HTTPServer

    from airflow.configuration import conf
    from airflow.utils.scheduler_health import HealthServer

    host = conf.get("scheduler", "SCHEDULER_HEALTH_CHECK_SERVER_HOST")
    port = conf.getint("scheduler", "SCHEDULER_HEALTH_CHECK_SERVER_PORT")
    server = HTTPServer((host, port), HealthServer)
    thread = threading.Thread(target=server.serve_forever, name="scheduler-health", daemon=True)
    thread.start()
    log.info("scheduler health: serving /health on %s:%s from a thread of the scheduler", host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


setattr(serve_in_a_thread, INSTALLED, True)


def install() -> bool:
    """Serve the health check from a thread in the scheduler command about to run; False outside `airflow
    scheduler` (its module not loaded), when already installed, or when this Airflow has no `_serve_health_check`
    (the scheduler then forks its health server as Airflow ships it, with a warning in its log)."""
    command = sys.modules.get(SCHEDULER_COMMAND)
    if command is None:
        return False
    current = getattr(command, "_serve_health_check", None)
    if current is None:
        log.warning("scheduler health: %s._serve_health_check is gone; Airflow serves /health", SCHEDULER_COMMAND)
        return False
    if getattr(current, INSTALLED, False):
        return False
    command._serve_health_check = serve_in_a_thread
    return True
