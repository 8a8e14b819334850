"""The failure notification's pieces without Airflow: the env contract, the policy's decisions, the message."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_celery.cluster.env import SNS_ENDPOINT_VAR, role_environment
from airflow_celery.cluster.failure_notifications import (
    SUBJECT_LIMIT,
    TOPIC_ARN_VAR,
    DagFailureNotifier,
    dag_policy,
    failed_from_states,
    message,
    region_of,
    run_url,
    subject,
)
from airflow_celery.cluster.queue_policy import LOCAL_SETTINGS
from airflow_celery.cluster.roles import DAG_PROCESSOR, ROLES
from tests.cluster_settings import settings_with

ARN = "arn:aws:sns:eu-west-1:123456789012:airflow-prod-alarms"
EXECUTION_API = "http://api-server.airflow.internal:8080/execution/"


def test_only_the_dag_processor_gets_the_topic_and_only_when_set():
    on = settings_with(
        execution_api_url=EXECUTION_API, dag_failure_topic_arn=ARN, sns_endpoint_url="http://127.0.0.1:5000"
    )
    off = settings_with(execution_api_url=EXECUTION_API)
    for role in ROLES:
        carried = role_environment(role.name, on).plain
        expected = {TOPIC_ARN_VAR: ARN, SNS_ENDPOINT_VAR: "http://127.0.0.1:5000"} if role is DAG_PROCESSOR else {}
        assert {k: v for k, v in carried.items() if k in (TOPIC_ARN_VAR, SNS_ENDPOINT_VAR)} == expected, role.name
        assert TOPIC_ARN_VAR not in role_environment(role.name, off).plain
        assert TOPIC_ARN_VAR not in role_environment(role.name, on).secrets  # an ARN, not a secret


def test_no_endpoint_override_without_a_topic():
    settings = settings_with(execution_api_url=EXECUTION_API, sns_endpoint_url="http://127.0.0.1:5000")
    assert SNS_ENDPOINT_VAR not in role_environment(DAG_PROCESSOR.name, settings).plain


def _dag(callback=None):
    return SimpleNamespace(dag_id="etl", on_failure_callback=callback, has_on_failure_callback=callback is not None)


def test_the_policy_attaches_the_notifier_and_the_flag_the_scheduler_reads(monkeypatch):
    monkeypatch.setenv(TOPIC_ARN_VAR, ARN)
    dag = _dag()
    dag_policy(dag)
    assert isinstance(dag.on_failure_callback, DagFailureNotifier)
    assert dag.on_failure_callback.topic_arn == ARN and dag.on_failure_callback.region == "eu-west-1"
    assert dag.has_on_failure_callback is True


def test_the_policy_leaves_a_dags_own_callback_alone(monkeypatch):
    monkeypatch.setenv(TOPIC_ARN_VAR, ARN)
    own = object()
    dag = _dag(own)
    dag_policy(dag)
    assert dag.on_failure_callback is own


def test_the_policy_does_nothing_without_a_topic(monkeypatch):
    monkeypatch.delenv(TOPIC_ARN_VAR, raising=False)
    dag = _dag()
    dag_policy(dag)
    assert dag.on_failure_callback is None and dag.has_on_failure_callback is False


def test_the_local_settings_export_both_policies():
    assert "from airflow_celery.cluster.failure_notifications import dag_policy" in LOCAL_SETTINGS
    assert '__all__ = ["dag_policy", "task_policy"]' in LOCAL_SETTINGS


def test_region_comes_from_the_topic_arn():
    assert region_of(ARN) == "eu-west-1"
    with pytest.raises(ValueError, match=TOPIC_ARN_VAR):
        region_of("arn:aws:sqs:eu-west-1:123456789012:q")


def test_the_message_names_the_dag_the_run_the_failed_tasks_and_links_the_run():
    run_id = "manual__2026-12-06T20:00:00+00:00"
    url = run_url("https://airflow.example.com/", "etl", run_id)
    assert url == "https://airflow.example.com/dags/etl/runs/manual__2026-12-06T20%3A00%3A00%2B00%3A00"
    text = message("etl", run_id, "task_failure", ["load", "extract"], url)
    assert text.splitlines() == [
        f"DAG etl, run {run_id}, failed (task_failure).",
        "Failed tasks: extract, load",
        f"Run: {url}",
    ]
    assert message("etl", run_id, None, [], None) == f"DAG etl, run {run_id}, failed."
    assert run_url(None, "etl", run_id) is None


def test_the_subject_fits_sns():
    assert subject("etl") == "Airflow DAG failed: etl"
    long = subject("d" * 300 + "é")
    assert len(long) == SUBJECT_LIMIT and long.isascii() and "\n" not in long


def test_failed_tasks_come_from_the_runs_task_states():
    states = {"r1": {"a": "failed", "b": "success", "c": "upstream_failed"}, "r2": {"d": "failed"}}
    assert failed_from_states(states, "r1") == ["a", "c"]
    assert failed_from_states(states, "r3") == []
