"""The shared real local cluster of the integration tests: one `airflow-celery local up` per test session.

How to add a cheap integration test (`make test` must stay under 4 minutes):

- Mark it `integration` and take the session-scoped `cluster` fixture (conftest.py). It then runs on the shared
  cluster after the cluster's one start-up (about a minute on 2 cores): it should cost
  seconds, its own DAG runs, not a start-up of its own. Put its DAGs in tests/local/dags (copied in at start-up).
- Leave the cluster as you found it: supervisord restarts killed programs; a test that stops one starts it
  again; a test that adds DAG files or rows removes them.
- Wait on the cluster's own timeouts, never on a fixed sleep, and give the test clusters short ones through
  `local up` (the env contract), as FAST_FAILOVER does for the watchdog and the retry delay.
- Minutes of waiting that prove a figure (outages, bursts, rollouts) belong in bench/, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_celery.local.api import AirflowApi
from airflow_celery.local.state import StatePaths

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
PORT_KEYS = ("postgres.postgres", "redis.redis", "api-server.http", "scheduler.health", "flower.http", "metrics.statsd")
UP_TIMEOUT = 600
MIN_WORKERS, MAX_WORKERS, SCALE_IN_COOLDOWN = 2, 3, 15
QUEUE = "heavy=0:1:2"
"""A second worker queue (tests/local/test_queues.py): no worker until one of its tasks comes, so it costs nothing
at start-up."""
# The machine may be shared and busy: give every health check more than the 120 s default.
HEALTH_TIMEOUT = 300
FAST_FAILOVER = ("--watchdog-interval", "5", "--task-retry-delay", "2")
"""A lost worker's tasks are retried about 40 s sooner than with the defaults (10 s rounds, 15 s delay): the
stale age is 3 rounds (reliability.watchdog_stale_after). 5 s, not the 2 s minimum: on a loaded 2-core machine a
worker may miss a reply or two, and 3 missed rounds in a row would count it lost during the api-server outage."""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow_celery", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


@dataclass(frozen=True)
class Notifications:
    """Where the cluster announces failed DAG runs (`local up --notify-sns`): a topic in moto's server on
    127.0.0.1, and an SQS queue subscribed to it that the tests read (tests/local/test_failure_notifications.py)."""

    topic_arn: str
    endpoint: str
    sqs: Any
    queue_url: str


@contextmanager
def sns_stand_in() -> Iterator[Notifications]:
    """moto's server with a topic and a queue subscribed to it, for as long as the cluster runs (about 0.5 s)."""
    import boto3
    from moto.server import ThreadedMotoServer

    (port,) = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        sns, sqs = (
            boto3.client("sns", endpoint_url=endpoint, **keys),
            boto3.client("sqs", endpoint_url=endpoint, **keys),
        )
        topic = sns.create_topic(Name="local-alarms")["TopicArn"]
        queue = sqs.create_queue(QueueName="failed-runs")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield Notifications(topic, endpoint, sqs, queue)
    finally:
        server.stop()


class Cluster:
    def __init__(self, state_dir: Path, ports: dict[str, int], dags: Path, notifications: Notifications | None = None):
        self.state_dir = state_dir
        self.ports = ports
        self.dags = dags
        self.notifications = notifications
        self.secrets = json.loads((state_dir / "secrets.json").read_text())

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return cli(*args, "--state-dir", str(self.state_dir), timeout=timeout)

    @property
    def state_dir_paths(self) -> StatePaths:
        return StatePaths(self.state_dir)

    def api(self) -> AirflowApi:
        return AirflowApi(f"http://127.0.0.1:{self.ports['api-server.http']}", "admin", self.secrets["admin-password"])


def running_cluster(tmp_path_factory):
    """Start the shared cluster; yield it; `down --purge` afterwards (a generator for the session fixture)."""
    if not (DAGS / "celery_parallel_demo.py").exists():
        pytest.skip(f"{DAGS}/celery_parallel_demo.py is not there yet")
    state_dir = tmp_path_factory.mktemp("local") / "state"
    # The project's DAGs and the integration tests' own (tests/local/dags), in one folder.
    dags = state_dir.parent / "dags"
    shutil.copytree(DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
    for dag_file in TEST_DAGS.glob("*.py"):
        shutil.copy(dag_file, dags)
    ports = dict(zip(PORT_KEYS, free_ports(len(PORT_KEYS)), strict=True))
    port_args = [arg for key, number in ports.items() for arg in ("--port", f"{key}={number}")]
    # Two workers, and a third the autoscaler starts for a burst (test_autoscaler_...); a short cool-down keeps
    # the test quick. The demo's five tasks fit the two minimum workers, so it runs on exactly those.
    up_args = ["local", "up", "--workers", f"{MIN_WORKERS}:{MAX_WORKERS}", "--concurrency", "4", "--schedulers", "2"]
    up_args += ["--scale-in-cooldown", str(SCALE_IN_COOLDOWN), "--state-dir", str(state_dir), "--queue", QUEUE]
    up_args += ["--dags-dir", str(dags), "--health-timeout", str(HEALTH_TIMEOUT), *FAST_FAILOVER, *port_args]
    with sns_stand_in() as notifications:
        # Failed DAG runs are announced on a topic in moto, as dagFailureNotifications does on AWS.
        up_args += ["--notify-sns", notifications.topic_arn, "--notify-sns-endpoint", notifications.endpoint]
        try:
            result = cli(*up_args, timeout=UP_TIMEOUT)
            assert result.returncode == 0, f"local up failed:\n{result.stdout}\n{result.stderr}"
            yield Cluster(state_dir, ports, dags, notifications)
        finally:
            down = cli("local", "down", "--purge", "--state-dir", str(state_dir), timeout=300)
            print(down.stdout, down.stderr)


def running_tasks(pid: int) -> int:
    """Tasks a worker runs now: its pool processes retitle themselves `airflow supervisor: <ti id>` per task."""
    group = os.getpgid(pid)
    count = 0
    for process in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(process.pid) == group and " ".join(process.info["cmdline"] or []).startswith(
                "airflow supervisor:"
            ):
                count += 1
        except (psutil.Error, ProcessLookupError):
            continue
    return count
