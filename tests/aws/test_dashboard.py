"""The dashboard under mocks: a valid PutDashboard request whose every metric is a valid `Metric` by botocore's
cloudwatch model and one that something publishes."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from airflow_celery.aws.alarms import published_metrics
from airflow_celery.aws.args import resolve_args
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


def _metrics(body: dict) -> list[dict]:
    """Each widget metric array `[namespace, name, dim, value, ..., {options}]` as a `Metric` request shape."""
    found = []
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            plain = [part for part in row if not isinstance(part, dict)]
            namespace, name, dims = plain[0], plain[1], plain[2:]
            found.append({
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": dims[i], "Value": dims[i + 1]} for i in range(0, len(dims), 2)],
            })  # fmt: skip
    return found


@pytest.mark.parametrize(("fixture", "name", "args"), [("dev", DEV_NAME, {}), ("prod", PROD_NAME, PROD_ARGS)])
def test_the_dashboard_is_valid_and_names_only_published_metrics(request, fixture, name, args):
    mocks = request.getfixturevalue(fixture)
    dashboard = mocks.one(DASHBOARD)
    session = botocore.session.get_session()
    model = session.get_service_model("cloudwatch")
    put = {"DashboardName": dashboard.inputs["dashboardName"], "DashboardBody": dashboard.inputs["dashboardBody"]}
    report = ParamValidator().validate(put, model.operation_model("PutDashboard").input_shape)
    assert not report.has_errors(), report.generate_report()
    metric_shape = model.shape_for("Metric")
    published = published_metrics(resolve_args(name, args))
    body = json.loads(dashboard.inputs["dashboardBody"])
    for metric in _metrics(body):
        report = ParamValidator().validate(metric, metric_shape)
        assert not report.has_errors(), report.generate_report()
        assert metric["MetricName"] in published[metric["Namespace"]], metric
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == mocks.region


def test_the_dashboard_shows_what_the_issue_asks(prod):
    body = json.loads(prod.one(DASHBOARD).inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "CPU % per role", "Memory % per role", "Queued and running tasks", "Workers: desired and running",
        "Failed tasks (not retried)", "Database CPU % and connections", "Database free storage (bytes)",
        "Redis memory %", "Scheduler loop (ms)", "Executor: open slots, queued, running",
        "Pool default_pool: open, queued, running", "Task duration (ms, all tasks)", "Heartbeats a minute",
        "Lost tasks, import errors, triggers", "Load balancer 5xx", "Load balancer latency (s)",
    ]  # fmt: skip
    roles = {row[-1]["label"] for row in body["widgets"][0]["properties"]["metrics"]}
    assert roles == {"api-server", "scheduler", "dag-processor", "triggerer", "worker", "flower"}
    (redis,) = body["widgets"][7]["properties"]["metrics"]
    assert redis[2:] == ["CacheClusterId", f"{PROD_NAME}-redis-001"]


def test_the_dashboard_name_is_unique_per_project_and_stack(prod, dev):
    assert prod.one(DASHBOARD).inputs["dashboardName"] == f"airflow-celery-prod-{PROD_NAME}"
    assert dev.one(DASHBOARD).inputs["dashboardName"].endswith(f"-{DEV_NAME}")


def test_airflow_metric_widgets_name_the_dimension_the_agent_adds(prod):
    """Every line on one of Airflow's own metrics carries metric_type, as the CloudWatch agent publishes it
    (cluster/metrics.py): without it the widget plots a metric nobody publishes, and shows nothing."""
    from airflow_celery.cluster.metrics import AIRFLOW_METRICS

    kinds = {m.published_name(p): m.kind for m in AIRFLOW_METRICS for p in (["default_pool"] if m.per_pool else [None])}
    body = json.loads(prod.one(DASHBOARD).inputs["dashboardBody"])
    lines = [m for m in _metrics(body) if m["MetricName"].startswith("airflow.")]
    assert {m["MetricName"] for m in lines} == set(kinds)
    for line in lines:
        assert line["Dimensions"] == [{"Name": "metric_type", "Value": kinds[line["MetricName"]]}]
