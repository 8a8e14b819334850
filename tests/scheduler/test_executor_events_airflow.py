"""The scheduler loop's count of executor events (airflow_celery/scheduler/executor_events.py), on the pinned Airflow
3.3.2: Airflow's own `_process_executor_events` answers 0 for a task end it has just handled, so the loop that read
it sleeps `scheduler_idle_sleep_time` before queuing the next task; with ours installed it answers 1."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from tests.airflow_probe import run_probe

pytestmark = pytest.mark.airflow

AIRFLOW = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])

PROBE = """
import json, sys
from pathlib import Path
from airflow import settings
from airflow._shared.timezones import timezone
from airflow.models import import_all_models
import_all_models()
from airflow.models.base import Base
from airflow.models.dagbundle import DagBundleModel
from airflow.models.serialized_dag import SerializedDagModel
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.utils.db import synchronize_log_template
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from airflow.executors.base_executor import BaseExecutor
from airflow.jobs.job import Job
from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
from airflow_celery.scheduler import executor_events

folder = Path(sys.argv[1])
Base.metadata.create_all(settings.engine)
synchronize_log_template()
DAG = ('from airflow.sdk import dag, task\\n@dag(dag_id="probe", schedule=None)\\n'
       'def probe():\\n    @task\\n    def first():\\n        pass\\n    first()\\nprobe()\\n')
(folder / "probe.py").write_text(DAG)
with settings.Session() as session:
    session.add(DagBundleModel(name="dags"))
    session.commit()
sync_bag_to_db(BundleDagBag(dag_folder=folder, bundle_path=folder), "dags", None)
with settings.Session() as session:
    job = Job()
    session.add(job)
    session.commit()
    runner = SchedulerJobRunner(job=job)
    run = SerializedDagModel.get_dag("probe", session=session).create_dagrun(
        run_id="r", run_type=DagRunType.MANUAL, state=DagRunState.RUNNING, conf={}, logical_date=None,
        data_interval=None, run_after=timezone.utcnow(), triggered_by=DagRunTriggeredByType.TEST, session=session)
    (ti,) = run.task_instances
    ti.state = TaskInstanceState.SUCCESS  # the task stored its end through the api-server, as on a worker
    session.commit()
    executor = BaseExecutor()
    counts = {}
    for name in ("airflow", "ours"):
        if name == "ours":
            counts["installed"] = executor_events.install()
            counts["installed_again"] = executor_events.install()
        executor.event_buffer[ti.key] = (TaskInstanceState.SUCCESS, None)  # the executor read the task's end
        counts[name] = runner._process_executor_events(executor, session)
        counts[name + "_left_in_buffer"] = len(executor.event_buffer)
        counts[name + "_without_events"] = runner._process_executor_events(executor, session)
    executor_events.uninstall()
    counts["wrapped_after_uninstall"] = hasattr(SchedulerJobRunner._process_executor_events, executor_events.WRAPPED)
print(json.dumps(counts))
"""


def test_the_loop_sleeps_after_a_loop_whose_events_airflow_counts_as_none():
    """The rule the wrapper relies on, read from the pinned scheduler: the loop sleeps when it queued nothing and
    `_process_executor_events` answered 0, and that method answers what is left in the buffer it pops from."""
    source = (AIRFLOW / "jobs" / "scheduler_job_runner.py").read_text()
    assert "num_finished_events += self._process_executor_events(" in source
    assert "idle_in_this_run = not num_queued_tis and not num_finished_events" in source
    assert "time.sleep(min(self._scheduler_idle_sleep_time, next_event or 0))" in source
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    processing = inspect.getsource(SchedulerJobRunner.process_executor_events)
    assert "event_buffer = executor.get_event_buffer()" in processing
    assert "event_buffer.pop(buffer_key)" in processing
    assert processing.rstrip().endswith("return len(event_buffer)")


@pytest.mark.slow
def test_a_processed_task_end_counts_as_work_with_ours_and_as_none_with_airflows(tmp_path):
    """A task's end, read by the executor and handled by the scheduler's own method against a real database: Airflow
    answers 0 (so the loop would sleep), ours 1; with no event both answer 0 (an idle scheduler still sleeps). When
    Airflow counts the events it handled, `airflow` becomes 1 here and executor_events.py can go."""
    (tmp_path / "dags").mkdir()
    counts = run_probe(tmp_path, PROBE, str(tmp_path / "dags"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    assert counts == {
        "airflow": 0,
        "airflow_left_in_buffer": 0,
        "airflow_without_events": 0,
        "installed": True,
        "installed_again": False,
        "ours": 1,
        "ours_left_in_buffer": 0,
        "ours_without_events": 0,
        "wrapped_after_uninstall": False,
    }
