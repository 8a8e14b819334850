"""bench/latency.py reads stamps the cluster writes anyway: its patterns against real lines of a local cluster's logs
(2026-12-06, Airflow 3.3.2, celery provider 3.26.0), and its medians."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from bench import latency

TI = "01a24977-721a-758f-b276-7a1a4f03e84e"
CELERY_ID = "300e1efb-86bf-4040-848d-417c76bae98a"
SCHEDULER_LOG = f"""\
2026-12-06T03:48:15.852012Z [info     ] Setting external_executor_id for <TaskInstance: latency_1x1.sleep_00 \
manual__2026-12-06T03:48:14.460295+00:00 [queued] ti_id={TI}> to {CELERY_ID} \
[airflow.jobs.scheduler_job_runner.SchedulerJobRunner] loc=scheduler_job_runner.py:1429
2026-12-06T03:48:17.750654Z [info     ] TaskInstance Finished: dag_id=latency_1x1, task_id=sleep_00, \
run_id=manual__2026-12-06T03:48:14.460295+00:00, map_index=-1, ti_id={TI}, \
run_start_date=2026-12-06 03:48:16.103162+00:00
"""
WORKER_LOG = f"""\
2026-12-06T03:48:15.746887Z [info     ] Task execute_workload[{CELERY_ID}] received [celery.worker.strategy] \
loc=strategy.py:161
2026-12-06T03:48:16.033666Z [info     ] [{CELERY_ID}] Executing workload in Celery: \
dag_rel_path=PurePosixPath('latency_1x1.py')
2026-12-06T03:48:17.340327Z [info     ] Task execute_workload[{CELERY_ID}] succeeded in 1.588287057000116s: None \
[celery.app.trace] loc=trace.py:128
"""
API_LOG = f"""\
2026-12-06T03:48:16.090000Z [info     ] request finished               [http.access] client_addr=127.0.0.1:39340 \
duration_us=49342 loc=http_access_log.py:130 method=PATCH path=/execution/task-instances/{TI}/run query= \
status_code=200
2026-12-06T03:48:17.308592Z [info     ] request finished               [http.access] client_addr=127.0.0.1:39340 \
duration_us=49342 loc=http_access_log.py:130 method=PATCH path=/execution/task-instances/{TI}/state query= \
status_code=204
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fake_cluster(root: Path) -> SimpleNamespace:
    logs = root / "logs"
    logs.mkdir()
    (logs / "scheduler.log").write_text(SCHEDULER_LOG)
    (logs / "worker-1.log").write_text(WORKER_LOG)
    (logs / "api-server.log").write_text(API_LOG)
    return SimpleNamespace(paths=SimpleNamespace(logs=logs, airflow_home=root / "airflow"))


def test_every_log_stamp_is_found_for_its_task_instance_and_celery_id(tmp_path):
    cluster = fake_cluster(tmp_path)
    task = latency.TaskPath(TI, "sleep_00", 1, CELERY_ID)

    latency.read_logs(cluster, [task], since=at("2026-12-06T03:48:14"))

    assert task.stamps == {
        "Celery id recorded": at("2026-12-06T03:48:15.852012"),
        "scheduler saw end": at("2026-12-06T03:48:17.750654"),
        "received by worker": at("2026-12-06T03:48:15.746887"),
        "slot took it": at("2026-12-06T03:48:16.033666"),
        "slot free": at("2026-12-06T03:48:17.340327"),
        "state reported": at("2026-12-06T03:48:17.308592"),
    }


def test_lines_from_before_the_trigger_are_left_out(tmp_path):
    cluster = fake_cluster(tmp_path)
    task = latency.TaskPath(TI, "sleep_00", 1, CELERY_ID)

    latency.read_logs(cluster, [task], since=at("2026-12-06T03:50:00"))

    assert task.stamps == {}


def test_the_task_log_gives_process_start_and_dag_parsed(tmp_path):
    cluster = fake_cluster(tmp_path)
    run_dir = cluster.paths.airflow_home / "logs" / "dag_id=d" / "run_id=r" / "task_id=sleep_00"
    run_dir.mkdir(parents=True)
    lines = [
        {"timestamp": "2026-12-06T03:48:16.100000Z", "event": "::group::Pre Execute"},
        {"timestamp": "2026-12-06T03:48:16.150000Z", "event": "DAG bundles loaded: dags-folder"},
        {"timestamp": "2026-12-06T03:48:16.200000Z", "event": "Worker startup parse complete"},
    ]
    (run_dir / "attempt=1.log").write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    task = latency.TaskPath(TI, "sleep_00", 1, CELERY_ID)

    latency.read_task_logs(cluster, "d", "r", [task])

    assert task.stamps == {
        "task process started": at("2026-12-06T03:48:16.1"),
        "DAG parsed": at("2026-12-06T03:48:16.2"),
    }


def test_medians_steps_start_rate_and_slot_time():
    trigger = at("2026-12-06T04:00:00")
    tasks = []
    for i in range(3):
        queued = trigger + timedelta(seconds=1 + i)
        task = latency.TaskPath(f"ti{i}", f"t{i}", 1, f"c{i}")
        task.stamps = {
            "trigger": trigger,
            "queued": queued,
            "running": queued + timedelta(seconds=0.5),
            "scheduler saw end": queued + timedelta(seconds=2.5),
        }
        tasks.append(task)
    breakdown = latency.RunBreakdown("3 x 1 s", tasks, wall=5.0, cpu_seconds=1.5, retried=0, slots=3)

    summary = breakdown.summary()

    assert summary["stages"]["queued"]["median_offset_s"] == 2.0
    assert summary["stages"]["running"]["median_offset_s"] == 2.5
    assert summary["stages"]["running"]["median_step_s"] is None  # the stage before it in STAGES is missing
    assert summary["start_rate_per_s"] == 1.0  # 3 starts, 1 s apart: 2 intervals in 2 s
    assert summary["slot_held_s"] == 2.5
    assert summary["cpu_seconds_per_task"] == 0.5
    assert summary["slot_handover_s"] is None  # every task had a slot from the start


def test_a_freed_slots_wait_is_from_an_end_the_scheduler_read_to_the_next_task_queued():
    """With parallelism 2, the third task waits for the first end the scheduler reads, the fourth for the second."""
    trigger = at("2026-12-06T04:00:00")
    queued_and_end = [(0.0, 5.1), (0.0, 5.2), (5.3, 10.4), (5.5, 10.6)]
    tasks = []
    for i, (queued, end) in enumerate(queued_and_end):
        task = latency.TaskPath(f"ti{i}", f"t{i}", 1, f"c{i}")
        task.stamps = {
            "trigger": trigger,
            "queued": trigger + timedelta(seconds=queued),
            "scheduler saw end": trigger + timedelta(seconds=end),
        }
        tasks.append(task)
    breakdown = latency.RunBreakdown("4 x 5 s", tasks, wall=11.0, cpu_seconds=2.0, retried=0, slots=2)

    assert [round(h, 3) for h in breakdown.handovers()] == [0.2, 0.3]
    assert breakdown.summary()["slot_handover_s"] == 0.25
    del tasks[3].stamps["scheduler saw end"]  # a line the log did not have: no pairing at all, not a wrong one
    assert breakdown.handovers() == []
    tasks[3].stamps["scheduler saw end"] = trigger + timedelta(seconds=10.6)
    breakdown.slots = 1  # more tasks were queued at once than the slots said: no figure
    assert breakdown.handovers() == []


def test_cpu_by_program_is_per_task_largest_first_and_leaves_out_idle_programs():
    before = {"scheduler": 10.0, "worker-1": 5.0, "redis": 1.0}
    after = {"scheduler": 12.0, "worker-1": 13.0, "redis": 1.0, "worker-2": 4.0}  # worker-2 started during the run

    assert latency.cpu_by_program(before, after, tasks=4) == {"worker-1": 2.0, "worker-2": 1.0, "scheduler": 0.5}
    restarted = latency.cpu_by_program({"scheduler": 10.0}, {"scheduler": 2.0}, tasks=4)
    assert restarted == {"scheduler (restarted)": 0.5}
