"""Let the task supervisor see its task process exit when it exits, not up to `[workers] min_heartbeat_interval`
later.

Airflow's task supervisor (a Celery pool child) waits in `select` on the task process's four sockets and, after
each wake-up, asks `waitpid(WNOHANG)` whether the process has exited (airflow/sdk/execution_time/supervisor.py,
`_monitor_subprocess` and `_check_subprocess_exit`). The sockets close as the process exits, a moment before the
kernel makes it reapable. When the supervisor wakes in that moment, the process is not reapable yet and no socket
is left to wake it again: it sleeps out its `select` timeout, `[workers] min_heartbeat_interval` (1 s on this
cluster, Airflow's default 5 s), while the task's Celery slot stays taken. On the local cluster, 40 tasks of 5 s
on 2 workers x 4 slots: 8 of the 40 supervisors logged "Workload finished" 1.008-1.028 s after the task's last
log line, the other 32 after 8-55 ms (2026-12-07).

A pidfd (Linux 5.3+, `os.pidfd_open`) becomes readable when its process has exited and can be reaped. Registered
in the supervisor's selector beside the sockets, it wakes that `select` then. It is added to the class Celery's
`execute_workload` runs (ActivitySubprocess, through `supervise`) in the worker's main process at `worker_init`,
so every pool child forked after it has it. Where the kernel or a seccomp profile refuses `pidfd_open`, the
supervisor works as Airflow wrote it.
"""

from __future__ import annotations

import functools
import logging
import os
import selectors
from collections.abc import Callable
from typing import Any

log = logging.getLogger("airflow_celery.task_exit")

WATCHES_EXIT = "_airflow_celery_watches_exit"
"""Set on the wrapped method: installing twice wraps once."""


class ProcessExit:
    """A pidfd of one process, closed by the supervisor (or when dropped) once it has woken it."""

    _fd = -1

    def __init__(self, pid: int) -> None:
        self._fd = os.pidfd_open(pid)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def watch_exit(register_pipe_readers: Callable[..., None]) -> Callable[..., None]:
    """`WatchedSubprocess._register_pipe_readers`, then the process's pidfd in the same selector.

    The supervisor calls a ready object's handler with it and, when the handler returns False, the close callback
    and then the object's `close()` (`_service_subprocess`): the pidfd is read once, unregistered and closed, and
    `_check_subprocess_exit` that follows reaps the process."""

    @functools.wraps(register_pipe_readers)
    def register(self: Any, *args: Any, **kwargs: Any) -> None:
        register_pipe_readers(self, *args, **kwargs)
        try:
            process_exit = ProcessExit(self.pid)
        except OSError as error:
            log.debug("pidfd_open(%s) refused (%s): the supervisor polls for the exit", self.pid, error)
            return
        self.selector.register(process_exit, selectors.EVENT_READ, (lambda _: False, self.selector.unregister))

    setattr(register, WATCHES_EXIT, True)
    return register


def install() -> bool:
    """Wrap the task supervisor's registration of its sockets; True if it now watches the exit."""
    from airflow.sdk.execution_time.supervisor import ActivitySubprocess

    current = getattr(ActivitySubprocess, "_register_pipe_readers", None)
    if current is None or not hasattr(os, "pidfd_open"):
        log.warning("task exit watch not installed: this Airflow or Python lacks what it wraps")
        return False
    if not getattr(current, WATCHES_EXIT, False):
        ActivitySubprocess._register_pipe_readers = watch_exit(current)
    return True


def install_at_worker_init(**_: object) -> None:
    if install():
        log.info("task exit watch installed: each task supervisor wakes when its task process exits")


def connect() -> None:
    from celery import signals

    signals.worker_init.connect(install_at_worker_init, weak=False)
