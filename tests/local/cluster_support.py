"""The real local clusters of the integration tests: one `airflow-celery local up` per group of tests that share
one (CLUSTER_GROUPS), each group in its own xdist process under `make test`.

How to add a cheap integration test (`make test` must stay under 4 minutes):

- Mark it `integration`, take the session-scoped `cluster` fixture (conftest.py) and leave its file under the
  catch-all `cluster` group (or add it to a group whose tests take less time: the groups run side by side, so the
  longest one is what `make test` waits for). It then runs on that group's cluster after its one start-up (about
  40 s on 2 cores): it should cost seconds, its own DAG runs, not a start-up of its own. Put its DAGs in
  tests/local/dags (copied in at start-up).
- Leave the cluster as you found it: supervisord restarts killed programs; a test that stops one starts it
  again; a test that adds DAG files or rows removes them.
- Wait on the cluster's own timeouts, never on a fixed sleep, and give the test clusters short ones through
  `local up` (the env contract), as FAST_FAILOVER does for the watchdog and the retry delay.
- Minutes of waiting that prove a figure (outages, bursts, rollouts) belong in bench/, not here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from airflow_celery.local.api import AirflowApi
from airflow_celery.local.ports import free_port_blocks
from airflow_celery.local.state import StatePaths
from tests.moto_support import Notifications, moto_server, topic_into_queue

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
PORT_KEYS = ("postgres.postgres", "redis.redis", "api-server.http", "scheduler.health", "flower.http", "metrics.statsd")
PORT_SPANS = {"scheduler.health": 2}
"""Consecutive ports to keep free from a key's pick: the shared cluster's second scheduler takes the health port after
the first's (local/options.py, `resolve_ports`)."""
UP_TIMEOUT = 600
MIN_WORKERS, MAX_WORKERS, SCALE_IN_COOLDOWN = 2, 3, 15
QUEUE = "heavy=0:1:2"
"""A second worker queue (tests/local/test_queues.py): no worker until one of its tasks comes, so it costs nothing
at start-up."""
# The machine may be shared and busy: give every health check more than the 120 s default.
HEALTH_TIMEOUT = 300
CLUSTER_GROUPS: tuple[tuple[str, str], ...] = (
    ("tests/local/test_dag_bundles.py::", "git"),
    ("tests/local/test_fail_fast.py::", "s3"),
    ("tests/local/test_dag_bundles_s3.py::", "s3"),
    ("tests/local/test_failure_notifications.py::", "faults"),
    ("tests/local/test_clean.py::", "faults"),
    ("tests/local/test_cluster.py::test_api_server_down_", "faults"),
    ("tests/local/test_cluster.py::test_sigkill_of_a_scheduler_", "faults"),
    ("tests/local/test_cluster.py::test_two_concurrent_migrates_", "faults"),
    ("tests/local/test_api_server_pool.py::", "faults"),
    ("tests/local/", "cluster"),
)
"""Which xdist process, and so which cluster, each integration test runs on under `make test`'s
`pytest -m integration -n 4 --dist loadgroup` (the first matching prefix wins; tests/conftest.py):

- `git` and `s3`: the DAG-bundle clusters (module fixtures), one per source; `s3` first runs the tests that start
  no real cluster (test_fail_fast.py), while it waits for its turn to start one;
- `faults`: the api-server stopped 90 s then a worker killed, a scheduler killed, two concurrent migrates, and the
  api-server's database pool held full, on a second cluster of the shared one's shape (the session fixture of its
  own process); before them, on the fresh cluster, two files that need nothing the shared cluster has beyond its
  shape (a failed run announced on SNS, `local clean`), about 15 s: in a run on 2026-12-07 the shared cluster's
  tests ended 35 s after this group's, the phase's last;
- `cluster`: the shared cluster (the session fixture) and every other test file in tests/local.

Measured 2026-12-06 with the git and s3 tests in one group (7 min 12 s in all): after its start-up, `cluster` ran
260 s of tests, `faults` 220 s, `git` 132 s with its `down`, `s3` 60 s; the two bundle clusters one after the other
were the longest chain, so they are two groups now. An integration test lives in tests/local, where the `cluster`
fixture is; tests/conftest.py refuses one without a group."""


def group_of(nodeid: str) -> str | None:
    return next((group for prefix, group in CLUSTER_GROUPS if nodeid.startswith(prefix)), None)


def group_rank(nodeid: str) -> tuple[int, int]:
    """Collection order: the groups first, in CLUSTER_GROUPS' order, and in each its prefixes in that order; then
    every test without a cluster."""
    order = [group for _, group in CLUSTER_GROUPS]
    for index, (prefix, group) in enumerate(CLUSTER_GROUPS):
        if nodeid.startswith(prefix):
            return order.index(group), index
    return len(order), 0


def cluster_group_scheduler(config, log):
    """`pytest -n 6 --dist loadgroup`: each group whole to one xdist process, which starts the group's cluster
    and runs its tests in collection order; tests without a group are scheduled one by one. xdist's own loadgroup
    cannot be used: it renames test ids to carry the group (`item._nodeid`, xdist 3.8 remote.py), which pytest 9
    no longer reads (`Node.nodeid` returns `_id`)."""
    from xdist.scheduler import LoadScopeScheduling

    class ClusterGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

    config.option.loadscopereorder = False  # keep the collection order: the longest group starts first
    return ClusterGroupScheduling(config, log)


FAST_FAILOVER = ("--watchdog-interval", "5", "--task-retry-delay", "2", "--heartbeat-interval", "1")
"""A lost worker's tasks are retried about 33 s sooner than with the defaults (10 s rounds, 15 s delay, 5 s
heartbeats): 37 s after the loss against 70 s (reliability.lost_task_retry_within). The stale age is 3 rounds,
15 s, since 1 s heartbeats make 6 of them shorter (5 s heartbeats would make it 30 s). 5 s rounds, not the 2 s
minimum: on a loaded 2-core machine a worker may miss a reply or two, and 3 missed rounds in a row would count it
lost during the api-server outage."""
LESS_IDLE_CPU = ("--scheduler-idle-sleep", "1")
"""Airflow's own idle sleep instead of the cluster's 0.25 s (cluster/limits.py): the test clusters share 2 cores,
and an idle one spent 40 % of a core at 0.25 s (its two schedulers 18 %, their database traffic 14 %) against 22 %
at 1 s (2026-12-07). Their tests wait on behaviour, not on the last quarter second of a slot's refill."""


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow_celery", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


@contextmanager
def sns_stand_in() -> Iterator[Notifications]:
    """moto's server with a topic and a queue subscribed to it, for as long as the cluster runs (about 0.5 s): where
    the cluster announces failed DAG runs (`local up --notify-sns`; tests/local/test_failure_notifications.py)."""
    with moto_server() as moto:
        yield topic_into_queue(moto, "local-alarms", "failed-runs")


START_ORDER = ("cluster", "faults", "git", "s3")
"""The order the groups' clusters start in under xdist: the longest chain of tests after its start-up first."""
groups_in_run: set[str] = set()
"""The groups of this run's tests (tests/conftest.py, at the end of collection)."""
current_group: str | None = None
"""The group of the test this process is setting up (tests/conftest.py)."""


@contextmanager
def one_start_at_a_time(tmp_path_factory) -> Iterator[None]:
    """Under xdist the groups' clusters start one after another, in START_ORDER: `local up` is CPU-bound for its
    first half minute, and three at once on 2 cores took 136-158 s each (2026-12-06) against about 40 s alone. The
    files are in the run's base temp dir, which every xdist process of the run shares (theirs are `popen-gwN`)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent
    mine = START_ORDER.index(current_group) if current_group in START_ORDER else len(START_ORDER)
    ahead = [shared / f"started-{group}" for group in START_ORDER[:mine] if group in groups_in_run]
    deadline = time.monotonic() + UP_TIMEOUT  # bounded: a group ahead that died without starting is not waited for
    while not all(started.exists() for started in ahead) and time.monotonic() < deadline:
        time.sleep(0.5)
    with (shared / "cluster-start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            (shared / f"started-{current_group}").touch()


def local_up(tmp_path_factory, up_args: list[str]) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    """`airflow-celery local up` with these arguments and free ports (PORT_KEYS), one start-up at a time; fails the
    fixture if it fails. The ports are picked under the start lock, right before the cluster binds them: picked
    earlier, while a group waits its turn for minutes, another group's cluster could pick them too. (test_fail_fast.py
    picks two outside it, for programs that bind nothing.)"""
    with one_start_at_a_time(tmp_path_factory):
        ports = dict(zip(PORT_KEYS, free_port_blocks([PORT_SPANS.get(key, 1) for key in PORT_KEYS]), strict=True))
        port_args = [arg for key, number in ports.items() for arg in ("--port", f"{key}={number}")]
        result = cli(*up_args, *port_args, timeout=UP_TIMEOUT)
    assert result.returncode == 0, f"local up failed:\n{result.stdout}\n{result.stderr}"
    return result, ports


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
    # Two workers, and a third the autoscaler starts for a burst (test_autoscaler_...); a short cool-down keeps
    # the test quick. The demo's five tasks fit the two minimum workers, so it runs on exactly those.
    up_args = ["local", "up", "--workers", f"{MIN_WORKERS}:{MAX_WORKERS}", "--concurrency", "4", "--schedulers", "2"]
    up_args += ["--scale-in-cooldown", str(SCALE_IN_COOLDOWN), "--state-dir", str(state_dir), "--queue", QUEUE]
    up_args += ["--dags-dir", str(dags), "--health-timeout", str(HEALTH_TIMEOUT), *FAST_FAILOVER, *LESS_IDLE_CPU]
    with sns_stand_in() as notifications:
        # Failed DAG runs are announced on a topic in moto, as dagFailureNotifications does on AWS.
        up_args += ["--notify-sns", notifications.topic_arn, "--notify-sns-endpoint", notifications.endpoint]
        try:
            _, ports = local_up(tmp_path_factory, up_args)
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
