"""Streaming task logs to CloudWatch Logs, against moto's CloudWatch Logs in server mode on 127.0.0.1.

A child process stands for a worker's task supervisor: Airflow resolves its remote log IO from the environment
(`airflow.sdk.log.load_remote_log_handler`, as the supervisor does), the child logs lines through the IO's own
structlog processor, and the parent reads the stream back with GetLogEvents (the call behind the IO's `read`, which
the api-server serves) while the child runs, then SIGKILLs its process group and reads again. The control runs
Airflow's stock IO, whose lines wait a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from airflow_celery.cluster.task_logs import LOGGING_CONFIG_PATH, SEND_INTERVAL_SECONDS
from tests.moto_support import moto_server

pytestmark = pytest.mark.airflow

GROUP = "airflow-task-logs"
GROUP_ARN = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
STREAM = "dag_id=probe/run_id=manual/task_id=sleep/attempt=1.log"
LINES = [f"line {n} before the kill" for n in range(1, 6)]
ENDPOINT_VAR = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
"""boto3's per-service endpoint variable is named from the service id, "CloudWatch Logs" (botocore
configprovider.py, `_get_service_env_var_name`); AWS_ENDPOINT_URL_LOGS is ignored (test below)."""

CHILD = textwrap.dedent(
    """
    import datetime, sys, time
    from pathlib import Path
    from airflow.sdk.log import load_remote_log_handler

    io = load_remote_log_handler()
    print("IO=" + type(io).__name__, flush=True)
    path = Path(sys.argv[1]) / sys.argv[2]
    path.parent.mkdir(parents=True, exist_ok=True)

    class TaskLogger:  # what relative_path_from_logger reads: the task's log file under base_log_folder
        _file = path.open("a")

    (proc,) = io.processors
    for line in sys.argv[3:]:
        proc(TaskLogger(), "info", {"event": line, "timestamp": datetime.datetime.now(datetime.UTC).isoformat()})
    print("logged", flush=True)
    time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def moto_logs():
    with moto_server() as moto:
        yield moto.endpoint


def _env(endpoint: str, base: str, custom: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update({
        ENDPOINT_VAR: endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws"}',
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True", "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_default",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"cloudwatch://{GROUP_ARN}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": base, "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW_HOME": base,
    })  # fmt: skip
    if custom:
        env["AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS"] = LOGGING_CONFIG_PATH
    return env


def _read(endpoint: str, stream: str) -> list[str]:
    """The lines CloudWatch holds for the stream, through boto3 as AwsLogsHook.get_log_events reads them."""
    import boto3

    client = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    try:
        events = client.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    except client.exceptions.ResourceNotFoundException:
        return []
    return [line for line in LINES if any(line in event["message"] for event in events)]


def _run_child(endpoint, tmp_path, stream, custom):
    base = tmp_path / ("custom" if custom else "stock")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(base), stream, *LINES],
        env=_env(endpoint, str(base), custom), stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    seen = []
    for line in child.stdout:  # Airflow's and botocore's own log lines come first; the child sleeps after "logged"
        seen.append(line.strip())
        if line.strip() == "logged":
            break
    io_class = next((line.removeprefix("IO=") for line in seen if line.startswith("IO=")), None)
    assert seen and seen[-1] == "logged", seen
    return child, io_class


def _kill(child):
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=10)


def test_lines_are_readable_while_the_task_runs_and_survive_a_sigkill(moto_logs, tmp_path):
    child, io_class = _run_child(moto_logs, tmp_path, STREAM, custom=True)
    try:
        assert io_class == "StreamingCloudWatchRemoteLogIO"
        deadline = time.monotonic() + SEND_INTERVAL_SECONDS + 10
        while _read(moto_logs, STREAM) != LINES and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _read(moto_logs, STREAM) == LINES  # while the supervisor still runs
    finally:
        _kill(child)
    assert _read(moto_logs, STREAM) == LINES  # after SIGKILL


@pytest.mark.slow
def test_airflows_stock_handler_holds_them_a_minute_and_a_sigkill_loses_them(moto_logs, tmp_path):
    """The reason for the subclass: watchtower's default send_interval is 60 s."""
    stream = STREAM.replace("attempt=1", "attempt=2")
    child, io_class = _run_child(moto_logs, tmp_path, stream, custom=False)
    try:
        assert io_class == "CloudWatchRemoteLogIO"
        time.sleep(SEND_INTERVAL_SECONDS + 3)
        assert _read(moto_logs, stream) == []
    finally:
        _kill(child)
    assert _read(moto_logs, stream) == []


def test_boto3_reads_the_logs_endpoint_from_the_service_ids_variable(monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_LOGS", "http://127.0.0.1:1")
    assert boto3.client("logs", region_name="us-east-1").meta.endpoint_url == "https://logs.us-east-1.amazonaws.com"
    monkeypatch.setenv(ENDPOINT_VAR, "http://127.0.0.1:2")
    assert boto3.client("logs", region_name="us-east-1").meta.endpoint_url == "http://127.0.0.1:2"
