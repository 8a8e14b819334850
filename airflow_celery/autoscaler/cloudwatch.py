"""The ECS sink: publish the counts and the desired worker count to CloudWatch.

Application Auto Scaling does the rest (aws/scaling.py): an alarm on `DesiredWorkers` drives a step policy whose
steps set the worker service's desired count to exactly that number. The counts are published too, so people can
plot the queue next to the workers.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from airflow_celery.cluster.scaling import Load

QUEUED_METRIC = "QueuedTasks"
RUNNING_METRIC = "RunningTasks"
DESIRED_METRIC = "DesiredWorkers"
METRICS = (QUEUED_METRIC, RUNNING_METRIC, DESIRED_METRIC)
NAMESPACE_PREFIX = "AirflowCelery"
READ_BACK_SECONDS = 600
"""How far back a restarted autoscaler looks for its last published DesiredWorkers (two scale-in cool-downs of
the default 300 s): an older value no longer says what runs."""
log = logging.getLogger("airflow_celery.autoscaler")


def namespace(cluster_name: str) -> str:
    """One namespace per deployment: the publisher's IAM allows exactly it (condition cloudwatch:namespace)."""
    return f"{NAMESPACE_PREFIX}/{cluster_name}"


QUEUE_DIMENSION = "Queue"
"""The dimension of an extra worker queue's metrics (cluster/queues.py); the default queue's have none, as before,
so that its alarm (aws/scaling.py) is the one it always was."""


def queue_dimensions(queue: str | None) -> dict[str, str] | None:
    """{Queue: name} for an extra queue; None for the default queue."""
    return {QUEUE_DIMENSION: queue} if queue else None


def metric_data(load: Load, desired: int, queue: str | None = None) -> list[dict[str, Any]]:
    values = {QUEUED_METRIC: load.queued, RUNNING_METRIC: load.running, DESIRED_METRIC: desired}
    dimensions = [{"Name": QUEUE_DIMENSION, "Value": queue}] if queue else []
    return [
        {
            "MetricName": name,
            "Value": float(values[name]),
            "Unit": "Count",
            **({"Dimensions": dimensions} if queue else {}),
        }
        for name in METRICS
    ]


class CloudWatchSink:
    """The last decision stands for the running workers (Application Auto Scaling sets them to it). After a restart
    that decision is read back from the metric, once, so that the first decision is a scale-in only after the
    cool-down like any other (cluster/scaling.py, `decide`), instead of dropping to the load's count at once."""

    def __init__(self, namespace_name: str, client: Any = None, clock: Any = None, queue: str | None = None):
        if client is None:
            import boto3

            client = boto3.client("cloudwatch")
        self.namespace = namespace_name
        self.client = client
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.read_back = False
        self.queue = queue
        """An extra queue's sink publishes with the Queue dimension; the default queue's without."""

    def current_workers(self) -> int | None:
        if self.read_back:
            return None
        self.read_back = True
        return self.last_published()

    def last_published(self) -> int | None:
        """The highest DesiredWorkers published in the last READ_BACK_SECONDS, or None (none, or unreadable)."""
        end = self.clock()
        try:
            answer = self.client.get_metric_statistics(
                Namespace=self.namespace,
                MetricName=DESIRED_METRIC,
                StartTime=end - datetime.timedelta(seconds=READ_BACK_SECONDS),
                EndTime=end,
                Period=60,
                Statistics=["Maximum"],
                **({"Dimensions": [{"Name": QUEUE_DIMENSION, "Value": self.queue}]} if self.queue else {}),
            )
        except Exception as error:
            log.warning("cannot read back the last DesiredWorkers (%s): the first decision follows the load", error)
            return None
        points = [point["Maximum"] for point in answer.get("Datapoints", [])]
        return int(max(points)) if points else None

    def apply(self, load: Load, desired: int) -> None:
        self.client.put_metric_data(Namespace=self.namespace, MetricData=metric_data(load, desired, self.queue))
