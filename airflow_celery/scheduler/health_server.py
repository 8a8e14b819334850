"""The scheduler's health endpoint (`GET :8974/health`, `[scheduler] enable_health_check`) from a thread of the
scheduler's own process, instead of a forked copy of it.

Airflow 3.3.2's `airflow scheduler` starts the health server as a `multiprocessing.Process` (cli/commands/
scheduler_command.py, `_serve_health_check`): a fork of the whole scheduler, Airflow and the Celery executor
imported, kept only to answer that one GET. Measured on a local cluster at idle (1 worker x 4, 2026-12-07): the
fork held 28 MiB of its own (pages that either process wrote after the fork, so that only the fork still maps its
copy), and the scheduler's process tree took 178 MiB PSS with it, 148 MiB without.

`serve_in_a_thread` has `_serve_health_check`'s signature and serves Airflow's own request handler
(`airflow.utils.scheduler_health.HealthServer`: 200 while this host's latest SchedulerJob is alive, else 503) on the
same host and port settings, from a daemon thread; the server is shut down when the scheduler's job ends. What the
check answers is unchanged: the heartbeat the scheduler's loop writes to the database (the process must be alive to
answer at all, where an orphaned fork could go on answering). What differs:
- a health port already taken stops the scheduler at start, where Airflow's fork died alone and left a scheduler
  without its health check;
- a request's socket times out after REQUEST_TIMEOUT, and the scheduler's exit waits at most SHUTDOWN_WAIT for a
  request in flight (Airflow terminated its fork without waiting);
- a child the scheduler forks later (a `[celery] sync_parallelism` send pool) closes its copy of the listening socket
  (`os.register_at_fork`), and the thread logs through `logging`, whose locks Python resets in a child, never to
  stderr directly (Airflow's server wrote an access line per request to stderr);
- a probe shares the scheduler's database pool (one connection for a moment) instead of a pool of the fork's own;
- a probe waits while the scheduler's main thread holds the GIL in a long C call: that can only make the answer
  late, never a false 200.

`install()` puts it in place of `_serve_health_check` in the scheduler command's module, when that module is
loaded: the scheduler's Celery config module (config.py, so only with the CeleryExecutor configured) calls it while
`_run_scheduler_job` builds the SchedulerJobRunner (its executors' import), before that function enters
`_serve_health_check`, which it looks up by name. tests/scheduler/test_health_server_airflow.py runs
`_run_scheduler_job` itself, with and without it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

log = logging.getLogger("airflow_celery.scheduler")

SCHEDULER_COMMAND = "airflow.cli.commands.scheduler_command"
INSTALLED = "_airflow_celery_health_in_a_thread"
"""Set on `serve_in_a_thread`: the command module's `_serve_health_check` is ours when it carries it."""
THREAD_NAME = "scheduler-health"
REQUEST_TIMEOUT = 10.0
"""Seconds a request's socket may wait (a client that connects and sends nothing); ECS's check gives up after 10."""
SHUTDOWN_WAIT = 5.0
"""Seconds the scheduler's exit waits for a request in flight (one blocked on the database) before closing the port."""

_serving: set[HTTPServer] = set()
_at_fork_registered: list[bool] = []
"""`os.register_at_fork` cannot be undone: registered once per process."""


def _close_in_child() -> None:
    """In a child forked while serving: close its copy of each listening socket (the parent's stays open)."""
    for server in list(_serving):
        server.socket.close()
    _serving.clear()


@contextmanager
def serving(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> Iterator[HTTPServer]:
    """`handler` on host:port from a daemon thread while the block runs; bound before the block starts."""
    server = HTTPServer((host, port), handler)
    if not _at_fork_registered:
        os.register_at_fork(after_in_child=_close_in_child)
        _at_fork_registered.append(True)
    _serving.add(server)
    threading.Thread(target=server.serve_forever, name=THREAD_NAME, daemon=True).start()
    try:
        yield server
    finally:
        _serving.discard(server)
        stopping = threading.Thread(target=server.shutdown, name=f"{THREAD_NAME}-stop", daemon=True)
        stopping.start()
        stopping.join(SHUTDOWN_WAIT)
        server.server_close()


def quiet(handler: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    """`handler` with REQUEST_TIMEOUT on its socket and its access lines at debug level through `logging`."""

    class Quiet(handler):  # type: ignore[misc, valid-type]
        timeout = REQUEST_TIMEOUT

        def log_message(self, format: str, *args: object) -> None:
            log.debug("scheduler health: %s " + format, self.address_string(), *args)

    Quiet.__name__ = Quiet.__qualname__ = f"Quiet{handler.__name__}"
    return Quiet


@contextmanager
def serve_in_a_thread(enable_health_check: bool = False) -> Iterator[None]:
    """Airflow's health server, on its configured host and port, from a daemon thread while the block runs."""
    if not enable_health_check:
        yield
        return
    from airflow.configuration import conf
    from airflow.utils.scheduler_health import HealthServer

    host = conf.get("scheduler", "SCHEDULER_HEALTH_CHECK_SERVER_HOST")
    port = conf.getint("scheduler", "SCHEDULER_HEALTH_CHECK_SERVER_PORT")
    with serving(host, port, quiet(HealthServer)):
        log.info("scheduler health: serving /health on %s:%s from a thread of the scheduler", host, port)
        yield


setattr(serve_in_a_thread, INSTALLED, True)


def install() -> bool:
    """Serve the health check from a thread in the scheduler command about to run; False outside `airflow
    scheduler` (its module not loaded), when already installed, or when this Airflow's command has no
    `_serve_health_check` (it serves its health check some other way then, left as it is, with a warning)."""
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
