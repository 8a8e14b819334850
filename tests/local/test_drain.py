"""The drain protocol on the real local cluster (cluster/drain.py, run in each worker by autoscaler/protection.py).

The autoscaler is stopped for the test and started again at the end, so that only the test asks workers to go
(it would otherwise resume a worker the test drains: the cluster's minimum is 2 workers)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from airflow_celery.local import supervisor
from airflow_celery.local.programs import drain_path
from airflow_celery.local.supervisor import process_infos
from tests.local.cluster_support import Cluster, running_tasks

pytestmark = pytest.mark.integration

LONG, SHORT = "drain_probe_long", "drain_probe_short"  # tests/local/dags/drain_probe.py: 8 x 10 s, 4 x 1 s
MARK = "drain-probe ran on"


def _status(cluster: Cluster, worker: str) -> dict:
    try:
        return json.loads(Path(f"{drain_path(cluster.state_dir_paths, worker)}.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"{what}: not after {timeout} s"
        time.sleep(0.5)
    return time.monotonic() - started


def _ran_on(cluster: Cluster, dag_id: str, run_id: str) -> dict[str, list[str]]:
    """task_id -> the worker program of each attempt, from the task logs."""
    root = cluster.state_dir / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    found = {}
    for folder in root.glob("task_id=*"):
        logs = sorted(folder.glob("attempt=*.log"))
        workers = []
        for log in logs:
            match = re.search(rf"{MARK} ([\w-]+)", log.read_text(errors="replace"))
            workers += [match.group(1)] if match else []
        found[folder.name.removeprefix("task_id=")] = workers
    return found


@pytest.fixture
def workers(cluster):
    """The two running workers (the autoscaler's scale-in may have kept any two), with the autoscaler stopped."""
    paths = cluster.state_dir_paths
    assert supervisor.stop_and_wait(paths, ["autoscaler"], 30) == []
    try:
        running = sorted(
            n for n, i in process_infos(paths).items() if re.fullmatch(r"worker-\d+", n) and i["statename"] == "RUNNING"
        )
        assert len(running) == 2, running
        yield running
    finally:
        for name in running:
            Path(f"{drain_path(paths, name)}.go").unlink(missing_ok=True)
        supervisor.start(paths, "autoscaler")
        _wait(lambda: process_infos(paths)["autoscaler"]["statename"] == "RUNNING", 60, "autoscaler running")


def test_a_draining_worker_takes_nothing_new_finishes_its_tasks_then_resumes_when_wanted(cluster, workers):
    """One worker is asked to go while it runs 4 tasks of 10 s: it stops consuming at once (4 short tasks
    triggered after that all run on the other), its own tasks finish at their first try, then it says `release`;
    asked to go no more, it consumes again."""
    paths = cluster.state_dir_paths
    serving, going = workers
    api = cluster.api()
    go = Path(f"{drain_path(paths, going)}.go")
    try:
        api.wait_for_dag(LONG)
        api.wait_for_dag(SHORT)
        long_run, _ = api.trigger(LONG)
        _wait(lambda: sum(t.state == "running" for t in api.task_instances(LONG, long_run)) == 8, 120, "8 running")
        pid = process_infos(paths)[going]["pid"]
        assert running_tasks(pid) == 4
        go.touch()
        _wait(lambda: _status(cluster, going).get("consuming") is False, 10, "going worker stopped consuming")
        assert _status(cluster, going)["release"] is False  # it still holds its 4 tasks
        short_run, _ = api.trigger(SHORT)
        _wait(lambda: api.run(LONG, long_run)["state"] in ("success", "failed"), 90, "the long run ended")
        released_after = _wait(lambda: _status(cluster, going).get("release") is True, 10, "released")
        _wait(lambda: api.run(SHORT, short_run)["state"] in ("success", "failed"), 60, "the short run ended")
        long_tis, short_tis = api.task_instances(LONG, long_run), api.task_instances(SHORT, short_run)
        assert process_infos(paths)[going]["pid"] == pid  # drained, not killed
        go.unlink()
        resumed_after = _wait(lambda: _status(cluster, going).get("consuming") is True, 10, "resumed")
    finally:
        api.close()
    assert {(t.state, t.try_number) for t in long_tis} == {("success", 1)}
    assert {(t.state, t.try_number) for t in short_tis} == {("success", 1)}
    ran = _ran_on(cluster, SHORT, short_run)
    assert ran and all(on == [serving] for on in ran.values()), ran
    assert released_after < 10 and resumed_after < 10


def test_a_stopped_worker_finishes_its_running_tasks(cluster, workers):
    """SIGTERM reaches the worker's main process only (stopasgroup=false): a Celery warm shutdown, so its
    running tasks finish at their first try (before, the whole process group got SIGTERM and they died)."""
    paths = cluster.state_dir_paths
    api = cluster.api()
    try:
        run_id, _ = api.trigger(LONG)
        _wait(lambda: sum(t.state == "running" for t in api.task_instances(LONG, run_id)) == 8, 120, "8 running")
        assert running_tasks(process_infos(paths)[workers[1]]["pid"]) == 4
        started = time.monotonic()
        assert supervisor.stop_and_wait(paths, [workers[1]], 60) == []
        stopped_after = time.monotonic() - started
        _wait(lambda: api.run(LONG, run_id)["state"] in ("success", "failed"), 60, "the run ended")
        tis = api.task_instances(LONG, run_id)
    finally:
        api.close()
        supervisor.start(paths, workers[1])
        # as found: the worker running and consuming again before the next test looks at it
        _wait(lambda: process_infos(paths)[workers[1]]["statename"] == "RUNNING", 120, "worker restarted")
        _wait(lambda: _status(cluster, workers[1]).get("consuming") is True, 120, "restarted worker consuming")
    assert {(t.state, t.try_number) for t in tis} == {("success", 1)}, [(t.task_id, t.state, t.try_number) for t in tis]
    assert stopped_after < 30  # it waited for its tasks (10 s each), not for stopwaitsecs (120 s)
