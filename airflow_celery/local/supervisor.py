"""Driving supervisord (the `supervisor` library) over XML-RPC on its unix socket in the state dir."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping
from pathlib import Path

import psutil
from supervisor.xmlrpc import SupervisorTransport, UnixStreamHTTPConnection

from airflow_celery.local.errors import LocalError
from airflow_celery.local.state import StatePaths

RUNNING_STATES = {"STARTING", "RUNNING", "BACKOFF", "STOPPING"}
START_TIMEOUT = 15.0
RPC_TIMEOUT = 10.0


class _BoundedUnixConnection(UnixStreamHTTPConnection):
    """supervisor's unix-socket connection, but a wedged supervisord can't hang us: every call times out."""

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(RPC_TIMEOUT)


def proxy(paths: StatePaths) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, serverurl=f"unix://{paths.supervisor_socket}")

    def bounded_connection() -> _BoundedUnixConnection:
        connection = _BoundedUnixConnection("localhost")
        connection.socketfile = str(paths.supervisor_socket)
        return connection

    transport._get_connection = bounded_connection
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def supervisord_pid(paths: StatePaths) -> int | None:
    """supervisord's pid if it answers on this state dir's socket, else None."""
    if not paths.supervisor_socket.exists():
        return None
    try:
        return int(proxy(paths).supervisor.getPID())
    except (OSError, xmlrpc.client.Error):
        return None


def clear_stale_socket(paths: StatePaths) -> bool:
    """A socket or pid file left by a supervisord that is gone; returns True when something was removed."""
    removed = False
    for leftover in (paths.supervisor_socket, paths.supervisor_pidfile):
        if leftover.exists():
            leftover.unlink()
            removed = True
    return removed


def start_supervisord(paths: StatePaths, env: Mapping[str, str]) -> int:
    """Start the daemon (it forks into its own session) and wait, bounded, until it answers."""
    command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.supervisord_conf)]
    result = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise LocalError(f"supervisord did not start (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = supervisord_pid(paths)
        if pid:
            return pid
        time.sleep(0.2)
    raise LocalError(
        f"supervisord did not answer on {paths.supervisor_socket} in {START_TIMEOUT:.0f} s; see {paths.supervisor_log}"
    )


def process_infos(paths: StatePaths) -> dict[str, dict]:
    return {info["name"]: info for info in proxy(paths).supervisor.getAllProcessInfo()}


def start(paths: StatePaths, name: str) -> None:
    try:
        proxy(paths).supervisor.startProcess(name, False)
    except xmlrpc.client.Fault as fault:
        if "ALREADY_STARTED" not in fault.faultString:
            raise LocalError(f"supervisord could not start {name}: {fault.faultString}") from None


def stop_and_wait(paths: StatePaths, names: list[str], timeout: float) -> list[str]:
    """Stop these programs in parallel; return those still not stopped after `timeout` seconds."""
    server = proxy(paths)
    for name in names:
        try:
            server.supervisor.stopProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise
    deadline = time.monotonic() + timeout
    while True:
        infos = process_infos(paths)
        left = [name for name in names if infos.get(name, {}).get("statename") in RUNNING_STATES]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.5)


def shutdown_supervisord(paths: StatePaths, pid: int, timeout: float = 60.0) -> None:
    with contextlib.suppress(OSError, xmlrpc.client.Error):
        proxy(paths).supervisor.shutdown()
    if not wait_gone([pid], timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone([pid], 5)


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(pid) and not _is_zombie(pid) for pid in pids):
            return True
        time.sleep(0.2)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


STATE_MARKER_VAR = "AIRFLOW_CELERY_LOCAL_STATE"
"""Set in every program's environment: children inherit it, so a process of this cluster is found even after
it exec'd away the command line that named the state dir (Airflow roles, PostgreSQL backends)."""


def belongs_to(process: psutil.Process, state_dir: Path) -> bool:
    """Started for this state dir: its environment carries exactly this state dir's marker.

    Not the command line: a `tail -f` of one of its logs, or a second cluster in `<dir>-b`, names the
    directory too, and `down` must stop nothing it did not start.
    """
    try:
        return process.environ().get(STATE_MARKER_VAR) == str(state_dir)
    except psutil.Error:
        return False


def processes_of(state_dir: Path) -> list[psutil.Process]:
    """Every live process of this state dir, and nothing else."""
    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid in (os.getpid(), os.getppid()) or _is_zombie(process.pid):
            continue
        if belongs_to(process, state_dir):
            found.append(process)
    return found
