"""Airflow's own metrics on ECS: a CloudWatch agent container next to each role that emits them, and its grant.

What is published, and how it is named, is the description's (cluster/metrics.py); this module only renders the
agent's container and the least privilege it needs: its task role may PutMetricData into the deployment's
namespace and nowhere else (the action has no resource type; the `cloudwatch:namespace` condition key scopes it,
Service Authorization Reference for CloudWatch). No secret, no port mapping: the roles send to 127.0.0.1 inside
the task, which no security group rule can open or needs to.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_celery.cluster.metrics import (
    AGENT_CONFIG_VAR,
    AGENT_CONTAINER,
    AGENT_IMAGE,
    AGENT_MEMORY_MIB,
    EMITTING_ROLES,
    agent_config_json,
)

if TYPE_CHECKING:
    import pulumi_aws as aws

    from airflow_celery.aws.context import BuildContext
    from airflow_celery.aws.task_definition import TaskInputs


def runs_agent(role_name: str, inputs: TaskInputs) -> bool:
    """A role's task gets the agent when Airflow's metrics are on and the role emits some."""
    return (
        inputs.airflow_metrics_namespace is not None
        and inputs.settings.statsd_port is not None
        and role_name in EMITTING_ROLES
    )


def agent_container(role_name: str, inputs: TaskInputs) -> dict[str, Any]:
    """The agent's container definition in `role_name`'s task; it logs to that role's group under its own prefix."""
    assert inputs.airflow_metrics_namespace is not None and inputs.settings.statsd_port is not None
    config = agent_config_json(inputs.airflow_metrics_namespace, inputs.region, inputs.settings.statsd_port)
    return {
        "name": AGENT_CONTAINER,
        "image": AGENT_IMAGE,
        # A lost agent loses metrics, never the role's work: ECS restarts it in place (SIDECAR_RESTART).
        "essential": False,
        "environment": [{"name": AGENT_CONFIG_VAR, "value": config}],
        "memoryReservation": AGENT_MEMORY_MIB,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": inputs.log_groups[role_name],
                "awslogs-region": inputs.region,
                "awslogs-stream-prefix": AGENT_CONTAINER,
            },
        },
    }


def publish_policy(namespace: str) -> str:
    """PutMetricData into exactly one namespace, and nothing else."""
    statement = {
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def grant_publish(ctx: BuildContext, role_name: str, role: aws.iam.Role, namespace: str) -> aws.iam.RolePolicy:
    import pulumi_aws as aws

    return aws.iam.RolePolicy(
        ctx.child_name(role_name, "task-role-airflow-metrics"),
        role=role.id,
        policy=publish_policy(namespace),
        opts=ctx.opts(),
    )
