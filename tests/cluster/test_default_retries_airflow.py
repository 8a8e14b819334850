"""The env contract's default task retries reach the scheduler through the serialized DAG.

`[core] default_task_retries` and `default_task_retry_delay` are read where DAG files are parsed (task SDK,
airflow/sdk/definitions/_internal/abstractoperator.py: DEFAULT_RETRIES, DEFAULT_RETRY_DELAY). The dag-processor
then stores them in the serialized DAG as `client_defaults` (airflow/serialization/serialized_objects.py,
`generate_client_defaults`), and the scheduler, which decides up_for_retry, reads them from there, whatever its
own config says. A task that sets `retries=0` keeps 0 (`_is_excluded` keeps an explicit value that differs from
the client defaults). Parsed with a dag-processor's environment, read back in a process without it.
Marked `airflow`: it runs Airflow, in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_celery.cluster import role_environment
from tests.cluster_settings import settings_with

pytestmark = pytest.mark.airflow

PROBE = r"""
import datetime, json, sys
from airflow.serialization.serialized_objects import DagSerialization

if sys.argv[1] == "parse":
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    with DAG("probe", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
        PythonOperator(task_id="sets_nothing", python_callable=print)
        PythonOperator(task_id="sets_retries_0", python_callable=print, retries=0)
    print(json.dumps(DagSerialization.to_dict(dag)))
else:
    dag = DagSerialization.from_dict(json.loads(sys.stdin.read()))
    print(json.dumps({t.task_id: [t.retries, t.retry_delay.total_seconds()] for t in dag.tasks}))
"""


def _run(step: str, extra_env: dict[str, str], home, stdin: str = "") -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env |= {"AIRFLOW_HOME": str(home), **extra_env}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, step], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_scheduler_gets_the_contracts_retries_from_the_parsed_dag(tmp_path):
    settings = settings_with(execution_api_url="http://api-server:8080/execution/")
    parsing = role_environment("dag-processor", settings).plain
    retry_keys = {k: v for k, v in parsing.items() if k.startswith("AIRFLOW__CORE__DEFAULT_TASK_RETR")}
    assert retry_keys == {"AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "2", "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "15"}

    serialized = _run("parse", retry_keys, tmp_path)
    # The scheduler side: Airflow's own defaults (0 retries, 300 s) in its config.
    tasks = json.loads(_run("read", {}, tmp_path, stdin=serialized))

    assert tasks["sets_nothing"] == [2, 15.0]
    assert tasks["sets_retries_0"][0] == 0
