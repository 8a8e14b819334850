"""What the watchdog learns from a real Celery worker through a real Redis (watchdog/celery_nodes.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from airflow_celery.watchdog.celery_nodes import BrokerUnreachable, NoWorkerReplied, celery_app, held_task_ids
from tests.celery_support import celery_worker, free_port, redis_server, wait_until


def held_or_none(app) -> set[str]:
    try:
        return held_task_ids(app, 2.0)
    except NoWorkerReplied:  # the worker is still starting
        return set()


@pytest.mark.slow
def test_a_running_task_is_held_until_its_worker_is_killed_and_silence_and_a_dead_broker_are_told_apart(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with redis_server(port) as redis, celery_worker(url, tmp_path / "alive") as worker:
        app = celery_app(url)
        sent = app.send_task("sleep", args=[60])
        wait_until(lambda: sent.id in held_or_none(app), 60, "the worker reports the task active")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        with pytest.raises(NoWorkerReplied):  # the broker answers; no worker does
            held_task_ids(app, 2.0)
        redis.terminate()
        redis.wait(timeout=10)
        started = time.monotonic()
        with pytest.raises(BrokerUnreachable):
            held_task_ids(app, 2.0)
        assert time.monotonic() - started < 15
