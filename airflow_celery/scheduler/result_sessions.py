"""One pooled engine for Celery's database result backend in the scheduler, instead of a new engine and a new
database connection for each read of the tasks' states.

The CeleryExecutor reads its tasks' states from the result backend on every scheduler loop that has tasks in flight
(the celery provider's celery_executor_utils.py, `BulkStateFetcher._get_many_from_db_backend`: one `ResultSession`
each). Celery's `SessionManager` keeps an engine only in a process it has seen fork (`forked`, set by its after-fork
hook in Celery's own pool children); anywhere else `get_engine` builds a new engine with a NullPool for every
session (celery/backends/database/session.py). So each such loop opened a connection of its own: 4.0 new PostgreSQL
sessions a second while 40 x 5 s tasks ran on 2 workers x 4 slots, against 0.2 at idle (a local cluster,
2026-12-07), each one a TLS handshake and a new backend process on RDS; and a quarter of the scheduler's busy
samples were spent connecting (py-spy, the same load).

`install()` makes the result backends of this process use `PooledSessionManager`, which takes Celery's `forked`
branch from the start: the engine is created on the first read and kept, with `[celery]
result_backend_sqlalchemy_engine_options` (the env contract gives the scheduler one connection, no overflow,
pre-ping and a recycle: cluster/env.py). Fork safety: a scheduler forks a ProcessPoolExecutor to send many tasks at
once when `[celery] sync_parallelism` is above 1 (and, as Airflow ships it, its health-check server at start, which
health_server.py serves from a thread instead)
(celery_executor.py, `_send_workloads_to_celery`); a child forked once the engine exists drops the inherited pool
without closing the parent's connections (`Engine.dispose(close=False)`, SQLAlchemy's way for forks), at any fork
(`os.register_at_fork`), and opens its own if it reads.
"""

from __future__ import annotations

import logging
import os

from celery.backends import database
from celery.backends.database.session import SessionManager
from sqlalchemy.engine import Engine

log = logging.getLogger("airflow_celery.scheduler")


class PooledSessionManager(SessionManager):
    """Celery's SessionManager in its `forked` mode from the start, its engine cache shared by the whole process.

    Shared, because the scheduler builds more than one Celery app, each with its own backend and manager: the
    executor's, which reads the states, and the one it sends tasks with (celery_executor_utils.py,
    `_get_celery_app_for_workload`), which reads results when the scheduler adopts a gone scheduler's tasks
    (`AsyncResult.result`); and Celery gives each thread a backend of its own. With one cache, they all use the one
    connection the connection budget counts (cluster/limits.py)."""

    engines: dict[str, Engine] = {}
    """URL -> the process's engine. Celery's `get_engine` fills it (in `forked` mode) and `invalidate` empties it."""

    def __init__(self) -> None:
        super().__init__()
        self.forked = True
        self._engines = PooledSessionManager.engines


def drop_inherited_pools() -> None:
    """In a forked child: new pools, the parent's connections left open for the parent."""
    for engine in PooledSessionManager.engines.values():
        engine.dispose(close=False)


def install() -> bool:
    """Every DatabaseBackend created after this call manages its sessions with PooledSessionManager (Celery builds
    the manager in `DatabaseBackend.__init__` from this module-level name). False when already installed."""
    if database.SessionManager is PooledSessionManager:
        return False
    database.SessionManager = PooledSessionManager
    if not _at_fork_registered:
        os.register_at_fork(after_in_child=drop_inherited_pools)
        _at_fork_registered.append(True)
    log.info("result backend: one pooled engine in this process, not one engine and connection per read")
    return True


_at_fork_registered: list[bool] = []
"""`os.register_at_fork` cannot be undone: registered once per process, whatever install/uninstall a test does."""
