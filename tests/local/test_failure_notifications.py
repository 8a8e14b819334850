"""A failed DAG run on a real local cluster (the `faults` group's, before its faults) reaches SNS from the real
dag-processor.

The cluster runs with `--notify-sns` (tests/local/cluster_support.py): the dag-processor's environment names a topic
in moto's server, the cluster policy attaches the notifier to every DAG without a callback of its own, the scheduler
files the DagCallbackRequest when the run fails, and the dag-processor runs it. The message is read back from an
SQS queue subscribed to the topic. Costs one failing two-task run and the callback's round trip: seconds.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration

DAG_ID = "failure_notify_probe"
RUN_TIMEOUT = 180
NOTIFY_TIMEOUT = 120
"""The scheduler files the callback as it marks the run failed; the dag-processor picks callbacks up on its next
loop and re-parses the file: seconds, bounded generously for a busy 2-core machine."""


def _wait_failed(api, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = api.run(DAG_ID, run_id)
        if run["state"] in ("failed", "success"):
            return run
        time.sleep(1)
    raise AssertionError(f"{DAG_ID} {run_id} did not finish within {RUN_TIMEOUT} s")


def _notification(notifications, run_id: str) -> tuple[dict, float]:
    """The message for this run, and the seconds it took to arrive after the run was seen failed."""
    start = time.monotonic()
    while time.monotonic() - start < NOTIFY_TIMEOUT:
        batch = notifications.sqs.receive_message(
            QueueUrl=notifications.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        for message in batch:
            body = json.loads(message["Body"])
            attributes = {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()}
            if attributes.get("dag_id") == DAG_ID and attributes.get("run_id") == run_id:
                return body, time.monotonic() - start
    raise AssertionError(f"no SNS message for {DAG_ID} {run_id} within {NOTIFY_TIMEOUT} s")


def test_a_failed_run_is_announced_on_sns_by_the_dag_processor(cluster):
    api = cluster.api()
    api.wait_for_dag(DAG_ID)
    run_id, _ = api.trigger(DAG_ID)
    assert _wait_failed(api, run_id)["state"] == "failed"

    body, seconds = _notification(cluster.notifications, run_id)
    assert body["TopicArn"] == cluster.notifications.topic_arn
    assert body["Subject"] == f"Airflow DAG failed: {DAG_ID}"
    lines = body["Message"].splitlines()
    assert lines[0] == f"DAG {DAG_ID}, run {run_id}, failed (task_failure)."
    assert lines[1] == "Failed tasks: breaks, breaks_too"  # both: read from the run's task states, not the context
    print(f"notification arrived {seconds:.1f} s after the run was seen failed")
