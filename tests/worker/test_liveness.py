"""The worker's health check (roles.py, WORKER): a file the Celery main process touches, checked by its age.

On a real Celery worker (tests/celery_support.py): it passes while Redis is down (running tasks do not need Redis;
the old check, `celery inspect ping` through the broker, failed then and replaced every worker), and fails when the
main process is frozen or dead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from airflow_celery.cluster.roles import WORKER, WORKER_ALIVE_VAR, fresh_file_check
from tests.celery_support import celery_worker, free_port, redis_server, wait_until

MAX_AGE = 3
"""The production check allows 60 s for a touch every 10 s; the test touches every second and allows 3."""


def check(alive, shell: str | None = None) -> bool:
    shell = shell or fresh_file_check(WORKER_ALIVE_VAR, "/nonexistent", MAX_AGE).shell
    env = {"PATH": os.environ["PATH"], WORKER_ALIVE_VAR: str(alive)}
    return subprocess.run(["sh", "-c", shell], env=env, capture_output=True, timeout=10).returncode == 0


@pytest.mark.slow
def test_the_check_passes_without_redis_and_fails_for_a_frozen_or_dead_main_process(tmp_path):
    alive = tmp_path / "worker.alive"
    port = free_port()
    with redis_server(port) as redis, celery_worker(f"redis://127.0.0.1:{port}/0", alive) as worker:
        wait_until(lambda: check(alive), 60, "the worker touches its liveness file")
        assert check(alive, WORKER.health.shell)  # the production check itself, same file
        redis.terminate()
        redis.wait(timeout=10)
        time.sleep(MAX_AGE + 3)
        assert worker.poll() is None and check(alive), "Redis down: the worker is alive and must look alive"

        os.kill(worker.pid, signal.SIGSTOP)  # a frozen main process (every thread stops)
        wait_until(lambda: not check(alive), MAX_AGE + 5, "a frozen main process fails the check")
        os.kill(worker.pid, signal.SIGCONT)
        wait_until(lambda: check(alive), 10, "a resumed worker passes again")

        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: not check(alive), MAX_AGE + 5, "a dead main process fails the check")


def test_a_missing_file_fails_the_check(tmp_path):
    assert not check(tmp_path / "never-touched")


def test_the_check_starts_no_python_and_asks_no_broker():
    shell = WORKER.health.shell
    assert "python" not in shell and "celery" not in shell and "airflow" not in shell
