"""The task supervisor sees its task process exit when it exits (worker/task_exit.py), on Airflow's own supervisor.

The race is made certain here instead of left to chance: the child closes every socket it shares with the
supervisor, then lives LINGER seconds more before it exits, as an exiting task process does for a moment after its
sockets close. The supervisor is Airflow's own (WatchedSubprocess, and ActivitySubprocess started as a Celery
worker starts a task): its fork, sockets, selector and `_service_subprocess`, driven as `_monitor_subprocess`
drives it, without the heartbeats.

Marked `airflow`: it imports Airflow's task supervisor.
"""

from __future__ import annotations

import os
import time
import types
import uuid
from dataclasses import dataclass, field

import pytest
from airflow.sdk.execution_time.callback_supervisor import CallbackSubprocess
from airflow.sdk.execution_time.supervisor import ActivitySubprocess, WatchedSubprocess

from airflow_celery.worker import task_exit

pytestmark = pytest.mark.airflow

SELECT_TIMEOUT = 3.0
"""The supervisor's `select` timeout in this test, as `[workers] min_heartbeat_interval` is in the cluster's."""
LINGER = 1.0
"""How long the child lives after closing its sockets: long enough that a loaded machine's supervisor checks for
the exit in between."""
AIRFLOWS_REGISTER = getattr(
    WatchedSubprocess._register_pipe_readers, "__wrapped__", WatchedSubprocess._register_pipe_readers
)


class Probe(WatchedSubprocess):
    """A WatchedSubprocess whose child sends nothing, with Airflow's registration of its sockets."""

    _register_pipe_readers = AIRFLOWS_REGISTER

    def wait(self) -> int:  # pragma: no cover - the test drives _service_subprocess itself
        raise NotImplementedError

    def _handle_request(self, msg, log, req_id) -> None:  # pragma: no cover - the child sends no request
        raise NotImplementedError


class WatchedProbe(Probe):
    _register_pipe_readers = task_exit.watch_exit(AIRFLOWS_REGISTER)


class QuietActivity(ActivitySubprocess):
    """ActivitySubprocess as `ActivitySubprocess.start` makes it for a task, but telling the child nothing."""

    def _on_child_started(self, **_: object) -> None:
        pass


def close_sockets_then_linger() -> None:
    os.closerange(0, 1024)  # stdin/out/err (the requests and output sockets), the log socket, their duplicates
    time.sleep(LINGER)


def exit_leaving_a_grandchild_with_the_sockets() -> None:
    if os.fork() == 0:
        time.sleep(0.5)
        os._exit(0)


@dataclass
class Supervised:
    woken_by: list[list[object]] = field(default_factory=list)
    """What each `select` returned, in order."""
    seconds: float = 0.0
    """From the start to the exit reaped and every socket read out."""
    pidfds_left: list[int] = field(default_factory=list)
    """This process's pidfds still open then, before the selector is closed."""

    def exit_woke_it(self) -> bool:
        return any(isinstance(obj, task_exit.ProcessExit) for obj in self.woken_by[-1])


def open_pidfds() -> list[int]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if "pidfd" in os.readlink(f"/proc/self/fd/{fd}"):
                found.append(int(fd))
        except FileNotFoundError:  # the descriptor listdir itself read the directory with
            continue
    return found


def supervise(process: WatchedSubprocess) -> Supervised:
    """Service a started child as `_monitor_subprocess` does, until it is reaped and its sockets read out."""
    started, supervised = time.monotonic(), Supervised()
    select = process.selector.select

    def recording_select(timeout=None):
        events = select(timeout)
        supervised.woken_by.append([key.fileobj for key, _ in events])
        return events

    process.selector.select = recording_select
    deadline = started + 30
    while (process._exit_code is None or process._open_sockets) and time.monotonic() < deadline:
        process._service_subprocess(max_wait_time=SELECT_TIMEOUT)
    supervised.seconds = time.monotonic() - started
    supervised.pidfds_left = open_pidfds()
    process.selector.close()  # as ActivitySubprocess.wait does
    assert process._exit_code == 0
    return supervised


def test_without_the_watch_the_supervisor_sleeps_out_its_select_after_the_sockets_close():
    supervised = supervise(Probe.start(id=uuid.uuid4(), target=close_sockets_then_linger))
    assert supervised.woken_by[-1] == []  # the exit was found after a select that nothing woke
    assert supervised.seconds >= SELECT_TIMEOUT


def test_with_the_watch_the_exit_itself_wakes_the_supervisor_and_its_pidfd_is_closed():
    supervised = supervise(WatchedProbe.start(id=uuid.uuid4(), target=close_sockets_then_linger))
    assert [] not in supervised.woken_by  # every select was woken: by the sockets' ends, then by the exit
    assert supervised.exit_woke_it()
    assert supervised.seconds < SELECT_TIMEOUT
    assert supervised.pidfds_left == []  # closed by the supervisor once it had woken it, not by the GC later


def test_a_grandchild_holding_the_sockets_after_the_exit_costs_one_wake_up_not_a_spin():
    supervised = supervise(WatchedProbe.start(id=uuid.uuid4(), target=exit_leaving_a_grandchild_with_the_sockets))
    exits = [objs for objs in supervised.woken_by if any(isinstance(o, task_exit.ProcessExit) for o in objs)]
    assert len(exits) == 1  # read once, unregistered: the sockets' ends (the grandchild's exit) come after it
    assert len(supervised.woken_by) <= 6
    assert supervised.pidfds_left == []


def test_where_pidfd_open_is_refused_the_supervisor_works_as_airflow_wrote_it(monkeypatch):
    def refused(self, pid: int) -> None:
        raise PermissionError(1, "Operation not permitted")  # what a seccomp profile without pidfd_open answers

    monkeypatch.setattr(task_exit.ProcessExit, "__init__", refused)
    supervised = supervise(WatchedProbe.start(id=uuid.uuid4(), target=close_sockets_then_linger))
    assert supervised.woken_by[-1] == [] and supervised.seconds >= SELECT_TIMEOUT


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(WatchedSubprocess, "_register_pipe_readers", AIRFLOWS_REGISTER)  # restored afterwards
    assert task_exit.install()
    return WatchedSubprocess._register_pipe_readers


def test_install_wraps_the_registration_once_for_tasks_and_callbacks(installed):
    assert getattr(installed, task_exit.WATCHES_EXIT) and installed.__wrapped__ is AIRFLOWS_REGISTER
    assert task_exit.install() and WatchedSubprocess._register_pipe_readers is installed
    assert ActivitySubprocess._register_pipe_readers is installed  # neither overrides it
    assert CallbackSubprocess._register_pipe_readers is installed


def test_a_task_started_as_a_celery_worker_starts_it_is_watched(installed):
    what = types.SimpleNamespace(id=uuid.uuid4())
    process = QuietActivity.start(
        what=what, dag_rel_path="dag.py", bundle_info=None, client=None, target=close_sockets_then_linger
    )
    assert any(isinstance(key.fileobj, task_exit.ProcessExit) for key in process.selector.get_map().values())
    supervised = supervise(process)
    assert supervised.exit_woke_it() and [] not in supervised.woken_by


def test_install_declines_where_no_pidfd_can_be_opened(monkeypatch):
    monkeypatch.setattr(WatchedSubprocess, "_register_pipe_readers", AIRFLOWS_REGISTER)
    monkeypatch.setattr(task_exit, "pidfd_works", lambda: False)
    assert not task_exit.install()
    assert WatchedSubprocess._register_pipe_readers is AIRFLOWS_REGISTER


def test_the_worker_installs_it_at_worker_init_before_the_preload_freezes_the_heap():
    from celery import signals

    from airflow_celery.worker import config, preload

    receivers = [receiver for _, receiver in signals.worker_init.receivers]
    assert config.task_exit  # importing the worker's Celery config (as Airflow's Celery app does) connects it
    assert receivers.index(task_exit.install_at_worker_init) < receivers.index(preload.configure_models)
