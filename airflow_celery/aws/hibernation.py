"""Hibernation: every ECS service scaled to zero outside working hours, and the database stopped with it.

Application Auto Scaling scheduled actions set each service's min and max capacity to 0 at `sleep` and back
at `wake` on the schedule's days, in its timezone; the workers wake to their autoscaling bounds. EventBridge
Scheduler stops the RDS instance at the same hour and starts it at the wake hour (a universal target calling
rds:StopDBInstance / StartDBInstance, with a role that may do exactly that on this instance). RDS starts a
stopped instance by itself after 7 days, so a schedule that sleeps longer than that is refused (args.py). The
services wake with the database: the entrypoint waits for it (WAIT_BUDGET), and ECS starts a task again if that
wait runs out. ElastiCache, the load balancer and the NAT gateways cannot be stopped and keep running.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.ecs import desired_count
from airflow_celery.cluster.roles import ROLES_BY_NAME

SCALABLE_DIMENSION = "ecs:service:DesiredCount"
RDS_ACTIONS = {"stop": "stopDBInstance", "start": "startDBInstance"}
"""EventBridge Scheduler's universal targets (arn:aws:scheduler:::aws-sdk:rds:<action>); their input names the
instance as DbInstanceIdentifier (the SDK's casing, not the Query API's DBInstanceIdentifier)."""


def cron(hour: int, days: str) -> str:
    """An Application Auto Scaling / EventBridge Scheduler cron: minute 0 of `hour` on `days`."""
    return f"cron(0 {hour} ? * {days} *)"


def awake_bounds(ctx: BuildContext, role_name: str) -> tuple[int, int]:
    """What a service scales between while awake: the workers' autoscaling bounds, the others' own count."""
    r = ROLES_BY_NAME[role_name]
    if r.scalable:
        return ctx.config.worker_min_count, ctx.config.worker_max_count
    count = desired_count(ctx, r)
    return count, count


def hibernate(
    ctx: BuildContext,
    ecs_cluster: aws.ecs.Cluster,
    services: Mapping[str, aws.ecs.Service],
    targets: Mapping[str, aws.appautoscaling.Target],
    database: aws.rds.Instance,
    queue_bounds: Mapping[str, tuple[int, int]] | None = None,
) -> None:
    """Scheduled sleep and wake for every service (reusing a scaling target that exists), and for the database.
    `queue_bounds` gives the awake bounds of the extra worker queues' services, keyed like `services`
    (`worker-<queue>`, cluster/queues.py)."""
    queue_bounds = queue_bounds or {}
    for role_name, service in services.items():
        bounds = queue_bounds.get(role_name) or awake_bounds(ctx, role_name)
        target = targets.get(role_name) or _target(ctx, ecs_cluster, role_name, service, bounds)
        _scheduled(ctx, role_name, target, "sleep", (0, 0))
        _scheduled(ctx, role_name, target, "wake", bounds)
    _database_schedules(ctx, database)


def _target(
    ctx: BuildContext,
    ecs_cluster: aws.ecs.Cluster,
    role_name: str,
    service: aws.ecs.Service,
    bounds: tuple[int, int],
) -> aws.appautoscaling.Target:
    low, high = bounds
    return aws.appautoscaling.Target(
        ctx.child_name(role_name, "hibernation"),
        service_namespace="ecs",
        scalable_dimension=SCALABLE_DIMENSION,
        resource_id=pulumi.Output.concat("service/", ecs_cluster.name, "/", service.name),
        min_capacity=low,
        max_capacity=high,
        tags=ctx.tags(role_name, "hibernation"),
        opts=ctx.opts(),
    )


def _scheduled(
    ctx: BuildContext, role_name: str, target: aws.appautoscaling.Target, when: str, bounds: tuple[int, int]
) -> aws.appautoscaling.ScheduledAction:
    schedule = ctx.config.hibernation
    assert schedule is not None
    hour = schedule.sleep if when == "sleep" else schedule.wake
    return aws.appautoscaling.ScheduledAction(
        ctx.child_name(role_name, when),
        name=ctx.child_name(role_name, when),
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        schedule=cron(hour, schedule.days),
        timezone=schedule.timezone,
        scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(
            min_capacity=bounds[0], max_capacity=bounds[1]
        ),
        opts=ctx.opts(),
    )


def scheduler_policy(instance_arn: str) -> str:
    statement = {"Effect": "Allow", "Action": ["rds:StopDBInstance", "rds:StartDBInstance"], "Resource": [instance_arn]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _database_schedules(ctx: BuildContext, database: aws.rds.Instance) -> None:
    schedule = ctx.config.hibernation
    assert schedule is not None
    role = aws.iam.Role(
        ctx.child_name("db-hibernation-role"),
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        description=f"airflow-celery {ctx.name}: EventBridge Scheduler stops and starts the database",
        tags=ctx.tags("db-hibernation-role"),
        opts=ctx.opts(),
    )  # fmt: skip
    grant = aws.iam.RolePolicy(
        ctx.child_name("db-hibernation-policy"), role=role.id, policy=database.arn.apply(scheduler_policy),
        opts=ctx.opts(),
    )  # fmt: skip
    for when, action, hour in (("stop", "stop", schedule.sleep), ("start", "start", schedule.wake)):
        aws.scheduler.Schedule(
            ctx.child_name("db", when),
            schedule_expression=cron(hour, schedule.days),
            schedule_expression_timezone=schedule.timezone,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=f"arn:aws:scheduler:::aws-sdk:rds:{RDS_ACTIONS[action]}",
                role_arn=role.arn,
                input=database.identifier.apply(lambda identifier: json.dumps({"DbInstanceIdentifier": identifier})),
            ),
            opts=ctx.opts(depends_on=[grant]),
        )
