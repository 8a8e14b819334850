"""The failure notification through the real Airflow 3.3.2 and amazon provider, into a real SNS stand-in.

moto's server on 127.0.0.1 holds a topic and an SQS queue subscribed to it. A fresh Python with the cluster's
`airflow_local_settings` in {AIRFLOW_HOME}/config and the dag-processor's environment (the topic's ARN, the SNS
endpoint through botocore's AWS_ENDPOINT_URL_SNS) runs what the dag-processor's parsing process runs
(airflow/dag_processing/processor.py, `_parse_file`): first a parse, whose serialized DAGs must say
`has_on_failure_callback` (the scheduler files a DagCallbackRequest only then: models/dagrun.py `update_state`),
then a DagCallbackRequest as the scheduler files it for a failed run, which `_parse_file` hands to
`_execute_dag_callbacks`. The only stand-in inside Airflow is the dag-processor's supervisor, answering the one
GetTaskStates message (the failed tasks) as processor.py's `_handle_request` would from the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_celery.cluster.env import SNS_ENDPOINT_VAR
from airflow_celery.cluster.failure_notifications import TOPIC_ARN_VAR
from airflow_celery.cluster.queue_policy import LOCAL_SETTINGS
from tests.moto_support import moto_server, topic_into_queue

pytestmark = pytest.mark.airflow

REGION = "us-east-1"
RUN_ID = "scheduled__2026-12-06T20:00:00+00:00"
BASE_URL = "https://airflow.example.com"
DAGS = {
    "nightly.py": """
from airflow.sdk import dag, task


@dag(dag_id="nightly_load", schedule=None, catchup=False)
def nightly_load():
    @task
    def extract():
        return 1

    @task
    def load(value):
        raise RuntimeError("boom")

    load(extract())


nightly_load()
""",
    "own_callback.py": """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator


def page_the_team(context):
    print("own callback", context["run_id"])


with DAG(dag_id="own_callback", schedule=None, on_failure_callback=page_the_team):
    EmptyOperator(task_id="noop")
""",
}

DAG_PROCESSOR = """
import json
from pathlib import Path

import structlog

from airflow.callbacks.callback_requests import DagCallbackRequest
from airflow.dag_processing.processor import DagFileParseRequest, _parse_file
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import GetTaskStates, TaskStatesResult

dags = Path({dags!r})
log = structlog.get_logger()
flags = {{}}
for name in ("nightly.py", "own_callback.py"):
    parsed = _parse_file(DagFileParseRequest(file=str(dags / name), bundle_path=dags, bundle_name="dags-folder"), log)
    assert not parsed.import_errors, parsed.import_errors
    for lazy in parsed.serialized_dags:
        flags[lazy.dag_id] = bool(lazy.data["dag"].get("has_on_failure_callback"))


class Supervisor:
    \"\"\"Answers GetTaskStates as the dag-processor's supervisor does (processor.py, handle_get_task_states).\"\"\"

    asked = []

    def send(self, msg):
        assert isinstance(msg, GetTaskStates), msg
        self.asked.append(msg.model_dump(mode="json"))
        return TaskStatesResult(task_states={{{run_id!r}: {{"extract": "success", "load": "failed"}}}})


task_runner.SUPERVISOR_COMMS = Supervisor()
failed_run = DagCallbackRequest(filepath="nightly.py", dag_id="nightly_load", run_id={run_id!r},
                                bundle_name="dags-folder", bundle_version=None, is_failure_callback=True,
                                msg="task_failure")
assert _parse_file(DagFileParseRequest(file=str(dags / "nightly.py"), bundle_path=dags, bundle_name="dags-folder",
                                       callback_requests=[failed_run]), log) is None
own_failed = failed_run.model_copy(update={{"filepath": "own_callback.py", "dag_id": "own_callback"}})
assert _parse_file(DagFileParseRequest(file=str(dags / "own_callback.py"), bundle_path=dags,
                                       bundle_name="dags-folder", callback_requests=[own_failed]), log) is None
print(json.dumps({{"flags": flags, "asked": Supervisor.asked}}))
"""


@pytest.fixture(scope="module")
def sns_to_sqs():
    """A topic and a queue subscribed to it, in moto's server."""
    with moto_server() as moto:
        yield topic_into_queue(moto, "notify-alarms", "pager", REGION)


def _dag_processor(tmp_path: Path, topic: str, endpoint: str) -> tuple[dict, str]:
    home, dags = tmp_path / "home", tmp_path / "dags"
    (home / "config").mkdir(parents=True)
    (home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
    dags.mkdir()
    for name, code in DAGS.items():
        (dags / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__BASE_URL": BASE_URL,
        # What the env contract gives the dag-processor (cluster/env.py), and credentials for moto.
        TOPIC_ARN_VAR: topic,
        SNS_ENDPOINT_VAR: endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    code = textwrap.dedent(DAG_PROCESSOR.format(dags=str(dags), run_id=RUN_ID))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout + result.stderr


def _received(sqs, queue: str) -> list[dict]:
    found = []
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        found += [json.loads(m["Body"]) for m in batch]
        if found:
            return found
    return found


def test_a_failed_run_reaches_the_topic_from_the_dag_processors_own_callback_path(sns_to_sqs, tmp_path):
    report, output = _dag_processor(tmp_path, sns_to_sqs.topic_arn, sns_to_sqs.endpoint)

    # The policy's flag reaches the serialized DAG; a DAG's own callback stays its own (flag from the DAG itself).
    assert report["flags"] == {"nightly_load": True, "own_callback": True}
    # The failed tasks were asked of the supervisor for this run alone.
    (asked,) = report["asked"]
    assert asked["dag_id"] == "nightly_load" and asked["run_ids"] == [RUN_ID]

    assert f"own callback {RUN_ID}" in output  # the DAG with its own callback kept it, and sent nothing to SNS
    (notification,) = _received(sns_to_sqs.sqs, sns_to_sqs.queue_url)
    assert notification["TopicArn"] == sns_to_sqs.topic_arn
    assert notification["Subject"] == "Airflow DAG failed: nightly_load"
    url = f"{BASE_URL}/dags/nightly_load/runs/scheduled__2026-12-06T20%3A00%3A00%2B00%3A00"
    assert notification["Message"].splitlines() == [
        f"DAG nightly_load, run {RUN_ID}, failed (task_failure).",
        "Failed tasks: load",
        f"Run: {url}",
    ], output[-3000:]
    attributes = {name: value["Value"] for name, value in notification["MessageAttributes"].items()}
    assert attributes == {"dag_id": "nightly_load", "run_id": RUN_ID}
