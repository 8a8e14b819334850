"""Housekeeping on ECS: `airflow db clean` once a day as a one-off Fargate task, started by EventBridge Scheduler.

Workers have no database rights of their own, and no service should carry a daily job, so the command gets its
own task definition: the image, the migrate job's environment (the env contract's metadata database settings),
only the two metadata database secrets (cluster/housekeeping.py, SECRETS) and its own log group. It runs in the
private subnets with the scheduler's security group, the one that already reaches the database. The schedule's
role may only run that task definition family in this cluster and pass its execution role to ECS.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_celery.aws import iam
from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.ecs import runtime_platform
from airflow_celery.aws.hibernation import cron
from airflow_celery.aws.task_definition import SECRET_VERSIONS_LABEL, TaskInputs, secret_versions_label
from airflow_celery.cluster.env import role_environment
from airflow_celery.cluster.housekeeping import CLEAN_HOUR_UTC, RETENTION_VAR, SECRETS
from airflow_celery.cluster.roles import MIGRATE
from airflow_celery.cluster.secrets import SecretName

NAME = "housekeeping"
MODULE = "airflow_celery.cluster.housekeeping"
IMAGE_INIT = ["/usr/bin/dumb-init", "--"]
"""The image's ENTRYPOINT starts with dumb-init (image/Dockerfile); the task replaces only what follows it."""


def schedule_expression(config: Any) -> tuple[str, str]:
    """(cron, timezone): daily at CLEAN_HOUR_UTC, or, on a hibernating stack, an hour after it wakes on its days
    (the database is stopped while it sleeps)."""
    sleep = config.hibernation
    if sleep is None:
        return f"cron(0 {CLEAN_HOUR_UTC} * * ? *)", "UTC"
    return cron(min(sleep.wake + 1, sleep.sleep - 1), sleep.days), sleep.timezone


def container_definition(inputs: TaskInputs, log_group: str, retention_days: int) -> dict[str, Any]:
    """The one container: the migrate job's plain environment, the retention, the database secrets only."""
    plain = {**role_environment(MIGRATE.name, inputs.settings).plain, RETENTION_VAR: str(retention_days)}
    return {
        "name": NAME,
        "image": inputs.image,
        "essential": True,
        "entryPoint": [*IMAGE_INIT, "python", "-m", MODULE],
        "command": [],
        "environment": [{"name": key, "value": value} for key, value in sorted(plain.items())],
        "secrets": [{"name": key, "valueFrom": inputs.secret_arns[name]} for key, name in sorted(SECRETS.items())],
        # A new database password makes a new revision, and the schedule follows it (it names the revision).
        "dockerLabels": {SECRET_VERSIONS_LABEL: secret_versions_label(SECRETS, inputs.secret_versions)},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": inputs.region, "awslogs-stream-prefix": NAME},
        },
    }


def run_task_policy(family_arn: str, cluster_arn: str, execution_role_arn: str) -> str:
    """RunTask of any revision of the family, in this cluster only; PassRole of its execution role, to ECS only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": [f"{family_arn}:*"],
         "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}},
        {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [execution_role_arn],
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}},
    ]})  # fmt: skip


def housekeeping(
    ctx: BuildContext,
    ecs_cluster: aws.ecs.Cluster,
    inputs: pulumi.Output[TaskInputs],
    private_subnet_ids: pulumi.Input[list[str]],
    security_group: aws.ec2.SecurityGroup,
    secret_arns: dict[SecretName, pulumi.Output[str]],
) -> aws.scheduler.Schedule:
    config = ctx.config
    logs = aws.cloudwatch.LogGroup(
        ctx.child_name(NAME, "logs"),
        retention_in_days=config.log_retention_days,
        tags=ctx.tags(NAME, "logs"),
        opts=ctx.opts(),
    )
    execution, grants = iam.execution_role(ctx, NAME, [secret_arns[name] for name in sorted(set(SECRETS.values()))])
    definition = aws.ecs.TaskDefinition(
        ctx.child_name(NAME, "task"),
        family=ctx.child_name(NAME),
        cpu=str(MIGRATE.size.cpu),
        memory=str(MIGRATE.size.memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=runtime_platform(ctx),
        execution_role_arn=execution.arn,
        container_definitions=pulumi.Output.all(inputs, logs.name).apply(
            lambda v: json.dumps([container_definition(v[0], v[1], config.db_clean_retention_days)])
        ),
        tags=ctx.tags(NAME, "task"),
        opts=ctx.opts(depends_on=grants),
    )
    role = aws.iam.Role(
        ctx.child_name(NAME, "scheduler-role"),
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        description=f"airflow-celery {ctx.name}: EventBridge Scheduler runs the daily `airflow db clean` task",
        tags=ctx.tags(NAME, "scheduler-role"),
        opts=ctx.opts(),
    )  # fmt: skip
    grant = aws.iam.RolePolicy(
        ctx.child_name(NAME, "scheduler-policy"),
        role=role.id,
        policy=pulumi.Output.all(definition.arn_without_revision, ecs_cluster.arn, execution.arn).apply(
            lambda v: run_task_policy(*v)
        ),
        opts=ctx.opts(),
    )
    expression, timezone = schedule_expression(config)
    return aws.scheduler.Schedule(
        ctx.child_name(NAME),
        description=f"airflow-celery {ctx.name}: airflow db clean, keeping {config.db_clean_retention_days} days",
        schedule_expression=expression,
        schedule_expression_timezone=timezone,
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(
            arn=ecs_cluster.arn,
            role_arn=role.arn,
            ecs_parameters=aws.scheduler.ScheduleTargetEcsParametersArgs(
                task_definition_arn=definition.arn,
                launch_type="FARGATE",
                platform_version="LATEST",
                task_count=1,
                network_configuration=aws.scheduler.ScheduleTargetEcsParametersNetworkConfigurationArgs(
                    subnets=private_subnet_ids, security_groups=[security_group.id], assign_public_ip=False
                ),
            ),
            # The next day's run catches up; a failed run shows in the task's log group.
            retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(maximum_retry_attempts=0),
        ),
        opts=ctx.opts(depends_on=[grant]),
    )
