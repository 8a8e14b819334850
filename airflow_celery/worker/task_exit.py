"""Let the task supervisor see its task process exit when it exits, not up to `[workers] min_heartbeat_interval`
later.

Airflow's supervisor of a task or callback process (a Celery pool child) waits in `select` on the process's four sockets
and, after each wake-up, checks without blocking whether the process has exited
(airflow/sdk/execution_time/supervisor.py, `_monitor_subprocess` and `_check_subprocess_exit`; psutil's
`Process.wait(timeout=0)`). The process's last sockets close as it exits (`_fork_main` closes two, the kernel the rest),
a moment before it can be reaped. When the supervisor wakes in that moment, the process is not reapable yet and no
socket is left to wake it again: it sleeps out its `select` timeout, `[workers] min_heartbeat_interval` (Airflow's
default 5 s, the cluster's since; 1 s when this was measured), while the Celery slot stays taken. On the local cluster,
40 tasks of 5 s on 2 workers x 4 slots: 8 of the 40 supervisors logged "Workload finished" 1.008-1.028 s after the
task's last log line, the other 32 after 8-55 ms (2026-12-07).

A pidfd (Linux 5.3+, `os.pidfd_open`) becomes readable when its process has exited and can be reaped. Registered
in the supervisor's selector beside the sockets, it wakes that `select` then. It is added where every supervised
process's sockets are registered, `WatchedSubprocess._register_pipe_readers` (tasks: ActivitySubprocess, through
`BaseExecutor.run_workload`; callbacks: CallbackSubprocess), in the worker's main process at `worker_init`, so
every pool child forked after it has it. Where the kernel or a seccomp profile refuses `pidfd_open`, nothing is
changed and the worker says so.
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
    `_check_subprocess_exit` that follows reaps the process. A pidfd that cannot be had or registered is left out:
    the supervisor then works as Airflow wrote it."""

    @functools.wraps(register_pipe_readers)
    def register(self: Any, *args: Any, **kwargs: Any) -> None:
        register_pipe_readers(self, *args, **kwargs)
        try:
            process_exit = ProcessExit(self.pid)
        except OSError as error:
            log.debug("pidfd_open(%s) refused (%s): the supervisor polls for the exit", self.pid, error)
            return
        try:
            self.selector.register(process_exit, selectors.EVENT_READ, (lambda _: False, self.selector.unregister))
        except (OSError, ValueError) as error:
            process_exit.close()
            log.debug("pidfd of %s not registered (%s): the supervisor polls for the exit", self.pid, error)

    setattr(register, WATCHES_EXIT, True)
    return register


def pidfd_works() -> bool:
    """Whether this kernel lets this process open a pidfd (as psutil's `can_use_pidfd_open` checks)."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def install() -> bool:
    """Wrap the supervisors' registration of their sockets; True if they now watch the exit."""
    from airflow.sdk.execution_time.supervisor import WatchedSubprocess

    current = getattr(WatchedSubprocess, "_register_pipe_readers", None)
    if current is None or not pidfd_works():
        log.warning(
            "task exit watch not installed (%s): a task supervisor may see its task's exit up to "
            "[workers] min_heartbeat_interval late",
            "this Airflow has no WatchedSubprocess._register_pipe_readers" if current is None else "no pidfd here",
        )
        return False
    if not getattr(current, WATCHES_EXIT, False):
        WatchedSubprocess._register_pipe_readers = watch_exit(current)
    return True


def install_at_worker_init(**_: object) -> None:
    if install():
        log.info("task exit watch installed: each task supervisor wakes when its task process exits")


def connect() -> None:
    from celery import signals

    signals.worker_init.connect(install_at_worker_init, weak=False)
