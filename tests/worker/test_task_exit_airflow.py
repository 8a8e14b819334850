"""The task supervisor sees its task process exit when it exits (worker/task_exit.py), on Airflow's own supervisor.

The race is made certain here instead of left to chance: the child closes every socket it shares with the
supervisor, then lives LINGER seconds more before it exits, as an exiting task process does for a moment after its
sockets close. The supervisor is Airflow's WatchedSubprocess (fork, sockets, selector and `_service_subprocess`,
as `_monitor_subprocess` drives it), given the same `_register_pipe_readers` wrapper that `install()` puts on
ActivitySubprocess, the class Celery's `execute_workload` supervises tasks with.

Marked `airflow`: it imports Airflow's task supervisor.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
from airflow.sdk.execution_time.supervisor import ActivitySubprocess, WatchedSubprocess

from airflow_celery.worker import config, task_exit

pytestmark = pytest.mark.airflow

SELECT_TIMEOUT = 2.0
"""The supervisor's `select` timeout in this test, as `[workers] min_heartbeat_interval` is in the cluster's."""
LINGER = 0.3
"""How long the child lives after closing its sockets."""


class Probe(WatchedSubprocess):
    """A WatchedSubprocess whose child sends nothing: what the supervisor does about sockets and the exit."""

    def wait(self) -> int:  # pragma: no cover - the test drives _service_subprocess itself
        raise NotImplementedError

    def _handle_request(self, msg, log, req_id) -> None:  # pragma: no cover - the child sends no request
        raise NotImplementedError


class WatchedProbe(Probe):
    _register_pipe_readers = task_exit.watch_exit(WatchedSubprocess._register_pipe_readers)


def close_sockets_then_linger() -> None:
    os.closerange(0, 1024)  # stdin/out/err (the requests and output sockets), the log socket, their duplicates
    time.sleep(LINGER)


def supervise(probe_class: type[Probe]) -> tuple[list[int], float]:
    """Start the child and service it as `_monitor_subprocess` does, until it is reaped and its sockets read out:
    the number of ready objects each `select` returned, and the seconds from the start to the reaped exit."""
    process = probe_class.start(id=uuid.uuid4(), target=close_sockets_then_linger)
    started = time.monotonic()
    select, ready_counts = process.selector.select, []

    def counting_select(timeout=None):
        events = select(timeout)
        ready_counts.append(len(events))
        return events

    process.selector.select = counting_select
    deadline = started + 30
    while (process._exit_code is None or process._open_sockets) and time.monotonic() < deadline:
        process._service_subprocess(max_wait_time=SELECT_TIMEOUT)
    process.selector.close()  # as ActivitySubprocess.wait does
    assert process._exit_code == 0
    return ready_counts, time.monotonic() - started


def test_without_the_watch_the_supervisor_sleeps_out_its_select_after_the_sockets_close():
    ready_counts, seconds = supervise(Probe)
    assert ready_counts[-1] == 0  # the exit was found after a select that nothing woke
    assert seconds >= SELECT_TIMEOUT


def test_with_the_watch_the_exit_itself_wakes_the_supervisor():
    ready_counts, seconds = supervise(WatchedProbe)
    assert 0 not in ready_counts  # every select was woken: the sockets' ends, then the exit
    assert seconds < SELECT_TIMEOUT
    assert ready_counts[-1] == 1


def open_pidfds() -> list[int]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if "pidfd" in os.readlink(f"/proc/self/fd/{fd}"):
                found.append(int(fd))
        except FileNotFoundError:  # the descriptor listdir itself read the directory with
            continue
    return found


def test_the_watch_leaves_no_pidfd_open():
    for _ in range(3):
        supervise(WatchedProbe)
    assert open_pidfds() == []


def test_install_wraps_the_task_supervisor_once_and_runs_at_worker_init(monkeypatch):
    from celery import signals

    monkeypatch.setattr(ActivitySubprocess, "_register_pipe_readers", ActivitySubprocess._register_pipe_readers)
    original = ActivitySubprocess._register_pipe_readers
    assert task_exit.install()
    wrapped = ActivitySubprocess._register_pipe_readers
    assert getattr(wrapped, task_exit.WATCHES_EXIT) and wrapped.__wrapped__ is original
    assert task_exit.install() and ActivitySubprocess._register_pipe_readers is wrapped
    assert config.task_exit  # importing the worker's Celery config (as Airflow's Celery app does) connects it
    assert task_exit.install_at_worker_init in [receiver for _, receiver in signals.worker_init.receivers]


def test_where_pidfd_open_is_refused_the_supervisor_works_as_airflow_wrote_it(monkeypatch):
    def refused(self, pid: int) -> None:
        raise PermissionError(1, "Operation not permitted")  # what a seccomp profile without pidfd_open answers

    monkeypatch.setattr(task_exit.ProcessExit, "__init__", refused)
    ready_counts, seconds = supervise(WatchedProbe)
    assert ready_counts[-1] == 0 and seconds >= SELECT_TIMEOUT
