"""The ECS sink: publish the counts and the desired worker count to CloudWatch.

Application Auto Scaling does the rest (aws/scaling.py): an alarm on `DesiredWorkers` drives a step policy whose
steps set the worker service's desired count to exactly that number. The counts are published too, so people can
plot the queue next to the workers.
"""

from __future__ import annotations

from typing import Any

from airflow_celery.cluster.scaling import Load

QUEUED_METRIC = "QueuedTasks"
RUNNING_METRIC = "RunningTasks"
DESIRED_METRIC = "DesiredWorkers"
METRICS = (QUEUED_METRIC, RUNNING_METRIC, DESIRED_METRIC)
NAMESPACE_PREFIX = "AirflowCelery"


def namespace(cluster_name: str) -> str:
    """One namespace per deployment: the publisher's IAM allows exactly it (condition cloudwatch:namespace)."""
    return f"{NAMESPACE_PREFIX}/{cluster_name}"


def metric_data(load: Load, desired: int) -> list[dict[str, Any]]:
    values = {QUEUED_METRIC: load.queued, RUNNING_METRIC: load.running, DESIRED_METRIC: desired}
    return [{"MetricName": name, "Value": float(values[name]), "Unit": "Count"} for name in METRICS]


class CloudWatchSink:
    """Knows nothing of the running workers: the last decision stands for them (Application Auto Scaling sets it)."""

    def __init__(self, namespace_name: str, client: Any = None):
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        self.namespace = namespace_name
        self.client = client

    def current_workers(self) -> int | None:
        return None

    def apply(self, load: Load, desired: int) -> None:
        self.client.put_metric_data(Namespace=self.namespace, MetricData=metric_data(load, desired))
