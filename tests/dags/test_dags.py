"""The DAGs in dags/: they parse, the demo is exactly seed 000's, and the features DAG does what it says.

Airflow runs in a subprocess (dag_probe.py) with a fresh AIRFLOW_HOME, so its configuration and SQLite
database never leak into, or depend on, other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each test here starts Airflow itself in a subprocess: seconds per test, so not part of the quick unit run.
pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("dag_probe.py")
DEMO = "celery_parallel_demo"
FEATURES = "airflow3_features"


def _probe(command: str, tmp_path: Path, timeout: int) -> dict:
    home = tmp_path / "airflow-home"
    home.mkdir()
    out = tmp_path / "probe.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    result = subprocess.run(
        [sys.executable, str(PROBE), command, str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"dag_probe {command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def shape(tmp_path_factory) -> dict:
    return _probe("shape", tmp_path_factory.mktemp("dag-shape"), timeout=180)


def test_dags_import_without_errors(shape):
    assert shape["import_errors"] == {}
    assert shape["dag_ids"] == [FEATURES, "autoscaling_burst", DEMO]


def test_demo_has_the_shape_of_seed_000(shape):
    demo = shape["dags"][DEMO]
    assert demo["schedule"] is None
    assert demo["catchup"] is False
    assert demo["start_date"] == "2023-01-01T00:00:00+00:00"
    assert sorted(demo["tasks"]) == [f"processing_chunk_{i}" for i in range(1, 6)]
    for task_id, task in demo["tasks"].items():
        assert task["class"] == "PythonOperator"
        assert task["module"] == "airflow.providers.standard.operators.python"
        assert task["upstream"] == [] and task["downstream"] == [], f"{task_id} must run in parallel with the others"
        assert task["op_kwargs"] == {"task_number": int(task_id.rsplit("_", 1)[1])}


def test_demo_callable_sleeps_30_seconds_and_says_done(shape):
    assert shape["demo_call"] == {"sleep_calls": [[30]], "returned": "Done 3"}


def test_demo_uses_the_airflow3_task_sdk():
    source = (REPO / "dags" / f"{DEMO}.py").read_text()
    assert "from airflow.sdk import DAG" in source
    assert "from airflow import DAG" not in source
    assert "airflow.operators.python" not in source


def test_features_has_a_task_group(shape):
    tasks = shape["dags"][FEATURES]["tasks"]
    assert {task_id for task_id, task in tasks.items() if task["group"] == "transform"} == {
        "transform.square",
        "transform.total",
    }


def test_features_wires_return_values_through_xcom(shape):
    wiring = {task_id: task["xcom_inputs"] for task_id, task in shape["dags"][FEATURES]["tasks"].items()}
    assert wiring["transform.square"] == [["extract", "return_value"]]
    assert wiring["transform.total"] == [["transform.square", "return_value"]]
    assert wiring["flaky"] == [["transform.total", "return_value"]]
    assert wiring["check"] == [["flaky", "return_value"]]


def test_features_check_fails_on_a_wrong_value(shape):
    assert shape["check_rejects"]["raised"] == "ValueError"


def test_features_has_a_deferrable_sensor_that_really_defers(shape):
    sensor = shape["dags"][FEATURES]["tasks"]["wait_deferred"]
    assert sensor["class"] == "WaitSensor"
    assert sensor["deferrable"] is True
    assert sensor["time_to_wait_seconds"] == 5.0
    assert sensor["downstream"] == ["flaky"]
    deferral = shape["deferral"]
    assert deferral["deferred"] is True, "the sensor waited in the worker instead of deferring to the triggerer"
    assert deferral["trigger"].startswith("airflow.providers.standard.triggers.temporal.")
    # The triggerer itself ends the task: no second trip through a worker.
    assert deferral["end_from_trigger"] is True
    assert (deferral["event"], deferral["event_state"]) == ("TaskSuccessEvent", "success")
    assert 4.0 <= deferral["trigger_seconds"] < 15.0


def test_features_has_a_task_that_retries(shape):
    flaky = shape["dags"][FEATURES]["tasks"]["flaky"]
    assert flaky["retries"] >= 1
    assert flaky["retry_delay_seconds"] == 2.0


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_features_dag_runs_with_dag_test(tmp_path):
    """A real run on SQLite: XComs flow, `flaky` fails once and succeeds on try 2, `check` accepts the values.

    The sensor is marked success here: dag.test() resumes every deferred task on a worker with
    `execute_complete`, ignoring end_from_trigger, and WaitSensor has no such method (on the cluster the
    triggerer ends it). Its deferral is checked in test_features_has_a_deferrable_sensor_that_really_defers.
    """
    run = _probe("run-features", tmp_path, timeout=200)
    assert run["state"] == "success", run
    assert run["tasks"]["flaky"] == {"state": "success", "try_number": 2}
    assert run["tasks"]["check"]["state"] == "success"
    assert run["xcom"] == {
        "extract": [1, 2, 3, 4],
        "transform.square": [1, 4, 9, 16],
        "transform.total": 30,
        "flaky": {"total": 30, "try_number": 2},
        "check": "ok",
    }
    assert run["seconds"] < 40
