"""Runs inside a subprocess with its own AIRFLOW_HOME (see test_dags.py) and writes what it found as JSON.

Airflow reads its configuration once, at import; a subprocess keeps this test's AIRFLOW_HOME, DAGs folder
and SQLite database away from every other test in the session.

    python dag_probe.py shape OUT.json     # parse dags/ with the DagBag, describe the DAGs
    python dag_probe.py run-features OUT.json  # dag.test() the airflow3_features DAG on SQLite
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from unittest import mock

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def _load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def _describe_task(task) -> dict:
    group = task.task_group
    return {
        "class": type(task).__name__,
        "module": type(task).__module__,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "group": group.group_id if group is not None and not group.is_root else None,
        "retries": task.retries,
        "retry_delay_seconds": task.retry_delay.total_seconds(),
        "deferrable": getattr(task, "deferrable", None),
        "time_to_wait_seconds": _seconds(getattr(task, "time_to_wait", None)),
        "op_kwargs": getattr(task, "op_kwargs", None),
        "xcom_inputs": _xcom_inputs(task),
    }


def _xcom_inputs(task) -> list[list[str]]:
    """(task id, key) of every XCom this task's arguments pull: the TaskFlow wiring."""
    from airflow.sdk.definitions.xcom_arg import XComArg

    arguments = (getattr(task, "op_args", ()), getattr(task, "op_kwargs", {}))
    return sorted([operator.task_id, key] for operator, key in XComArg.iter_xcom_references(arguments))


def _seconds(value) -> float | None:
    return value.total_seconds() if hasattr(value, "total_seconds") else None


def _describe_dag(dag) -> dict:
    return {
        "schedule": dag.schedule,
        "start_date": dag.start_date.isoformat(),
        "catchup": dag.catchup,
        "tasks": {task.task_id: _describe_task(task) for task in dag.tasks},
    }


def _call_demo_callable(dag) -> dict:
    """Call the demo's python_callable with time.sleep replaced, recording what it slept."""
    task = dag.get_task("processing_chunk_3")
    with mock.patch("time.sleep") as fake_sleep:
        returned = task.python_callable(**task.op_kwargs)
    return {"sleep_calls": [list(call.args) for call in fake_sleep.call_args_list], "returned": returned}


def _probe_deferral(dag) -> dict:
    """Execute the sensor outside a run: it must raise TaskDeferred, then its trigger must end the task.

    This is what happens on the cluster: the worker defers, the triggerer runs the trigger, and the
    trigger's TaskSuccessEvent ends the task there (end_from_trigger), without going back to a worker.
    """
    from airflow.sdk.exceptions import TaskDeferred

    sensor = dag.get_task("wait_deferred")
    try:
        sensor.execute(context={})
    except TaskDeferred as deferred:
        trigger = deferred.trigger
        classpath, kwargs = trigger.serialize()
        started = time.monotonic()
        event = asyncio.run(_first_event(trigger))
        return {
            "deferred": True,
            "trigger": classpath,
            "end_from_trigger": kwargs.get("end_from_trigger"),
            "event": type(event).__name__,
            "event_state": str(getattr(event, "task_instance_state", None)),
            "trigger_seconds": time.monotonic() - started,
        }
    return {"deferred": False}


def _check_rejects(dag) -> dict:
    """What the final `check` task does with a wrong XCom value: it must raise, failing the run."""
    check = dag.get_task("check")
    try:
        check.python_callable({"total": 31, "try_number": 2})
    except Exception as error:
        return {"raised": type(error).__name__, "message": str(error)}
    return {"raised": None}


async def _first_event(trigger):
    async for event in trigger.run():
        return event
    return None


def shape() -> dict:
    bag = _load_dagbag()
    found = {"import_errors": dict(bag.import_errors), "dag_ids": sorted(bag.dags)}
    found["dags"] = {dag_id: _describe_dag(dag) for dag_id, dag in bag.dags.items()}
    if "celery_parallel_demo" in bag.dags:
        found["demo_call"] = _call_demo_callable(bag.dags["celery_parallel_demo"])
    if "airflow3_features" in bag.dags:
        found["deferral"] = _probe_deferral(bag.dags["airflow3_features"])
        found["check_rejects"] = _check_rejects(bag.dags["airflow3_features"])
    return found


def run_features() -> dict:
    """dag.test() the features DAG; the sensor is marked success (see test_dags.py for why)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()
    dag = _load_dagbag().dags["airflow3_features"]
    started = time.monotonic()
    run = dag.test(mark_success_pattern="wait_deferred")
    seconds = time.monotonic() - started
    with create_session() as session:
        instances = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        xcoms = session.query(XComModel).filter_by(dag_id=dag.dag_id, run_id=run.run_id, key="return_value").all()
        return {
            "state": str(run.state),
            "seconds": seconds,
            "tasks": {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in instances},
            "xcom": {xcom.task_id: XComModel.deserialize_value(xcom) for xcom in xcoms},
        }


if __name__ == "__main__":
    command, out = sys.argv[1], Path(sys.argv[2])
    result = {"shape": shape, "run-features": run_features}[command]()
    out.write_text(json.dumps(result, default=str))
