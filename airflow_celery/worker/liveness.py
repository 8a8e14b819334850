"""The worker's liveness file: touched every WORKER_ALIVE_EVERY seconds by a thread of the Celery main process.

The health check (roles.py, WORKER) only tests the file's age: no Python started, no Airflow imported, no round
trip through Redis. A Redis outage leaves it passing (running tasks do not need Redis, and Celery reconnects on its
own); a main process that died, or that is frozen (SIGSTOP, a kernel stall: every thread stops), stops touching it
and fails the check. The thread starts at `worker_init`, in the main process, before the broker connection: a
worker waiting for Redis at boot is alive too. Pool children are forked without it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from airflow_celery.cluster.roles import WORKER_ALIVE_EVERY, WORKER_ALIVE_VAR

log = logging.getLogger("airflow_celery.liveness")
DEFAULT_FILE = "/tmp/worker.alive"
EVERY_VAR = "AIRFLOW_CELERY_WORKER_ALIVE_EVERY"
"""Override of WORKER_ALIVE_EVERY, for tests."""

_started: threading.Thread | None = None


def touch_forever(path: Path, every: float, main: threading.Thread) -> None:
    """Touch `path` every `every` seconds for as long as the main thread lives."""
    while main.is_alive():
        try:
            path.touch()
        except OSError as error:
            log.warning("cannot touch the liveness file %s: %s", path, error)
        time.sleep(every)


def start(path: str | None = None, every: float | None = None) -> threading.Thread:
    """Start the touching thread once per process."""
    global _started
    if _started is not None and _started.is_alive():
        return _started
    target = Path(path or os.environ.get(WORKER_ALIVE_VAR) or DEFAULT_FILE)
    interval = every or float(os.environ.get(EVERY_VAR, WORKER_ALIVE_EVERY))
    target.touch()  # alive from this moment, not one interval later
    _started = threading.Thread(
        target=touch_forever, args=(target, interval, threading.main_thread()), name="worker-liveness", daemon=True
    )
    _started.start()
    log.info("liveness: touching %s every %.0f s", target, interval)
    return _started


def _on_worker_init(**_: object) -> None:
    start()


def connect() -> None:
    from celery import signals

    signals.worker_init.connect(_on_worker_init, weak=False)
