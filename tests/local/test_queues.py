"""Worker queues on the real local cluster (its `--queue heavy=0:1:2`, tests/local/cluster_support.py).

- A task runs only on a worker of its queue: each probe task returns its worker's Celery node name and queue,
  read back through the REST API (XCom), not from the logs.
- The queues scale independently: a task on `heavy` starts that queue's worker (none runs before), the default
  queue's workers stay as they were, and the heavy worker is stopped again after the cool-down.
- A task on a queue no worker consumes is refused where the real dag-processor parses its file: an import error
  naming the task, the queue and the queues there are (cluster/queue_policy.py), read through the REST API.
"""

from __future__ import annotations

import re
import time

import pytest

from airflow_celery.local.autoscaler import UP_STATES, worker_programs
from airflow_celery.local.supervisor import process_infos
from tests.local.cluster_support import SCALE_IN_COOLDOWN, Cluster

pytestmark = pytest.mark.integration

RUN_TIMEOUT = 240
SCALE_IN_TIMEOUT = SCALE_IN_COOLDOWN + 120
IMPORT_ERROR_TIMEOUT = 120


def _up(cluster: Cluster, queue: str | None) -> list[str]:
    infos = process_infos(cluster.state_dir_paths)
    return [name for name in worker_programs(infos, queue) if infos[name]["statename"] in UP_STATES]


def _xcom(api, run_id: str, task_id: str) -> str:
    path = f"/api/v2/dags/queue_probe/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    value = api._call("GET", path)["value"]
    return value.strip('"') if isinstance(value, str) else str(value)


def test_each_task_runs_on_a_worker_of_its_queue_and_only_that_queue_scales(cluster: Cluster):
    api = cluster.api()
    api.wait_for_dag("queue_probe")
    default_before = _up(cluster, None)
    assert _up(cluster, "heavy") == []  # min 0: no heavy worker until a heavy task comes
    run_id, _ = api.trigger("queue_probe")
    deadline = time.monotonic() + RUN_TIMEOUT
    heavy_seen, default_most = [], len(default_before)
    while (state := api.run("queue_probe", run_id)["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"queue_probe still {state} after {RUN_TIMEOUT} s"
        heavy_seen += [name for name in _up(cluster, "heavy") if name not in heavy_seen]
        default_most = max(default_most, len(_up(cluster, None)))
        time.sleep(1)
    assert state == "success"
    on_default, on_heavy = _xcom(api, run_id, "on_default"), _xcom(api, run_id, "on_heavy")
    assert re.fullmatch(r"worker-\d+@\S+ default", on_default), on_default
    assert re.fullmatch(r"worker-heavy-1@\S+ heavy", on_heavy), on_heavy
    assert heavy_seen == ["worker-heavy-1"]
    assert default_most == len(default_before), "the default queue's workers grew for a task on another queue"
    # And back: the heavy queue's worker is drained and stopped after the cool-down, the default ones stay.
    deadline = time.monotonic() + SCALE_IN_TIMEOUT
    while _up(cluster, "heavy"):
        assert time.monotonic() < deadline, f"worker-heavy-1 still up {SCALE_IN_TIMEOUT} s after its task"
        time.sleep(1)
    assert _up(cluster, None) == default_before


def test_a_task_on_an_unknown_queue_is_an_import_error_naming_it(cluster: Cluster):
    api = cluster.api()
    deadline = time.monotonic() + IMPORT_ERROR_TIMEOUT
    while True:
        errors = api._call("GET", "/api/v2/importErrors", params={"limit": 100})["import_errors"]
        found = [e for e in errors if e["filename"].endswith("queue_unknown_probe.py")]
        if found:
            break
        assert time.monotonic() < deadline, f"no import error for queue_unknown_probe.py: {errors}"
        time.sleep(2)
    message = found[0]["stack_trace"]
    assert "task 'lost_task' of DAG 'queue_unknown_probe' is on queue 'nowhere'" in message, message
    assert "The queues are: default, heavy" in message, message
