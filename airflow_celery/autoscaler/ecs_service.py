"""What a worker's ECS task learns about its own service: is it superseded, is a scale-in pending?

- `${ECS_CONTAINER_METADATA_URI_V4}/task` gives the task's ARN and its cluster (no credentials needed). Its
  `ServiceName` field is documented for EC2 and ECS Anywhere only, so the service comes from elsewhere:
- `ecs:DescribeTasks` on the task itself, once: `startedBy` is "the deployment ID of that service" and `group`
  is `service:<name>` (botocore's ecs model, shape Task).
- `ecs:DescribeServices` on that service, every `VIEW_SECONDS`: its deployments, each with `id`, `status`
  (PRIMARY is "the most recent deployment"), `desiredCount` and `runningCount` (shape Deployment).

A task whose deployment is not the PRIMARY one is superseded (a new task definition, or a forced new deployment;
after a circuit-breaker rollback the old deployment is PRIMARY again and its workers serve on). A task of the
PRIMARY deployment sees a scale-in pending when that deployment runs more tasks than it wants.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

from airflow_celery.cluster.drain import superseded_may_stop_consuming

METADATA_VAR = "ECS_CONTAINER_METADATA_URI_V4"
VIEW_SECONDS = 15.0
"""Seconds between two DescribeServices calls of one worker: a scale-in or a new deployment is seen within
this, at 1/15 call per second per worker (ECS throttles Describe* calls per account)."""
SERVICE_GROUP_PREFIX = "service:"


@dataclass(frozen=True)
class OwnTask:
    cluster: str
    task_arn: str
    region: str


@dataclass(frozen=True)
class Membership:
    """Which service and deployment started this task (DescribeTasks, once)."""

    service: str
    deployment_id: str


@dataclass(frozen=True)
class ServiceView:
    superseded: bool
    """This task's deployment is no longer the PRIMARY one."""
    replacements_running: bool
    """The PRIMARY deployment runs every task it wants."""
    scale_in_excess: int
    """Tasks of this (PRIMARY) deployment beyond its desired count: a scale-in is pending."""


def own_task(metadata_uri: str, timeout: float = 5.0) -> OwnTask:
    with urllib.request.urlopen(metadata_uri.rstrip("/") + "/task", timeout=timeout) as response:
        task = json.loads(response.read())
    arn = task["TaskARN"]
    return OwnTask(cluster=task["Cluster"], task_arn=arn, region=arn.split(":")[3])


def membership(client, task: OwnTask) -> Membership | None:
    """None when the task was not started by a service (a one-off run): such a worker never has to go."""
    found = client.describe_tasks(cluster=task.cluster, tasks=[task.task_arn])["tasks"]
    if not found:
        raise LookupError(f"DescribeTasks does not know {task.task_arn}")
    group, started_by = found[0].get("group", ""), found[0].get("startedBy", "")
    if not group.startswith(SERVICE_GROUP_PREFIX) or not started_by:
        return None
    return Membership(service=group[len(SERVICE_GROUP_PREFIX) :], deployment_id=started_by)


def service_view(service: dict, deployment_id: str) -> ServiceView:
    """The view from one DescribeServices `services[0]` for a task started by `deployment_id`."""
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    running, desired = primary.get("runningCount", 0), primary.get("desiredCount", 0)
    mine = primary["id"] == deployment_id
    return ServiceView(
        superseded=not mine,
        replacements_running=superseded_may_stop_consuming(running, desired),
        scale_in_excess=max(0, running - desired) if mine else 0,
    )


def describe_service(client, task: OwnTask, member: Membership) -> ServiceView:
    found = client.describe_services(cluster=task.cluster, services=[member.service])["services"]
    if not found:
        raise LookupError(f"DescribeServices does not know {member.service}")
    return service_view(found[0], member.deployment_id)
