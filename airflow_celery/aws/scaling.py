"""Worker autoscaling on ECS: Application Auto Scaling follows the autoscaler's DesiredWorkers metric.

The decision is made once, in cluster/scaling.py, by the autoscaler sidecar in the scheduler's task, which
publishes `DesiredWorkers` (and the raw counts) to the deployment's own CloudWatch namespace every 30 s. Here:

- a scalable target on the worker service's desired count, with min and max from the config;
- one step scaling policy with `ExactCapacity` steps, one per worker count (metric in [n - 0.5, n + 0.5) sets
  n workers): it scales out from 0 and back in to min, to exactly what the rule said;
- an alarm on the metric's 1-minute Maximum that is in ALARM whenever the metric exists (>= 0). CloudWatch
  repeats Auto Scaling actions every minute while an alarm stays in ALARM (CloudWatch "Alarm actions": "Except
  for Auto Scaling actions, the actions happen only on state transitions"), so the count keeps following the
  metric. Missing data (no scheduler) leaves the count as it is. With several schedulers, Maximum takes the
  highest of their decisions.

The scale-in cool-down and hysteresis are in the decision, so the policy's own cooldown is short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, queue_dimensions
from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.queues import WorkerQueue

POLICY_COOLDOWN = 60
"""Seconds between two scaling activities of the policy: one metric period."""
METRIC_PERIOD = 60


@dataclass(frozen=True)
class Step:
    """Metric values in [lower, upper) (offsets from the alarm's threshold of 0) set `capacity` workers."""

    lower: float
    upper: float | None
    capacity: int


MAX_STEPS = 20
"""Application Auto Scaling allows 20 step adjustments per step scaling policy (its quotas page)."""


def steps(minimum: int, maximum: int) -> list[Step]:
    """One step per worker count, the first from 0 (the alarm's threshold), the last open-ended. A range of more
    than 20 counts is cut into 20 runs of consecutive counts, each set to its highest: never fewer workers than
    the metric asks for, at most one run's width more."""
    counts = list(range(minimum, maximum + 1))
    width = math.ceil(len(counts) / MAX_STEPS)
    runs = [counts[i : i + width] for i in range(0, len(counts), width)]
    found = []
    for index, run in enumerate(runs):
        lower = 0.0 if index == 0 else run[0] - 0.5
        upper = None if index == len(runs) - 1 else run[-1] + 0.5
        found.append(Step(lower, upper, run[-1]))
    return found


def _bound(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def worker_autoscaling(
    ctx: BuildContext,
    cluster: aws.ecs.Cluster,
    service: aws.ecs.Service,
    namespace: str,
    queue: WorkerQueue | None = None,
) -> tuple[aws.appautoscaling.Target, aws.appautoscaling.Policy, aws.cloudwatch.MetricAlarm]:
    """The default queue's workers follow the dimensionless DesiredWorkers (as before); an extra queue's follow
    DesiredWorkers with the dimension Queue=<name> (autoscaler/cloudwatch.py), each its own target, policy, alarm."""
    config = ctx.config
    named = queue.resource_name if queue else "worker"
    minimum, maximum = (
        (queue.min_count, queue.max_count) if queue else (config.worker_min_count, config.worker_max_count)
    )
    target = aws.appautoscaling.Target(
        ctx.child_name(named, "scaling"),
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=minimum,
        max_capacity=maximum,
        tags=ctx.tags(named, "scaling"),
        opts=ctx.opts(),
    )
    policy = aws.appautoscaling.Policy(
        ctx.child_name(named, "follow-desired"),
        policy_type="StepScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
            adjustment_type="ExactCapacity",
            cooldown=POLICY_COOLDOWN,
            metric_aggregation_type="Maximum",
            step_adjustments=[
                aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs(
                    metric_interval_lower_bound=_bound(step.lower),
                    metric_interval_upper_bound=_bound(step.upper),
                    scaling_adjustment=step.capacity,
                )
                for step in steps(minimum, maximum)
            ],
        ),
        opts=ctx.opts(),
    )
    alarm = aws.cloudwatch.MetricAlarm(
        ctx.child_name(named, "desired"),
        alarm_description=(
            f"airflow-celery {ctx.name}: sets the {_workers(queue)} count to {DESIRED_METRIC} (always in ALARM while "
            "the autoscaler publishes; that is how it keeps acting)"
        ),
        namespace=namespace,
        metric_name=DESIRED_METRIC,
        dimensions=queue_dimensions(queue.name) if queue else None,
        statistic="Maximum",
        period=METRIC_PERIOD,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="missing",
        alarm_actions=[policy.arn],
        tags=ctx.tags(named, "desired"),
        opts=ctx.opts(),
    )
    return target, policy, alarm


def _workers(queue: WorkerQueue | None) -> str:
    return f"queue {queue.name}'s worker" if queue else "worker"


def capacity_provider_strategy(capacity: str, minimum: int) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
    """fargate: on-demand only; fargate-spot: Spot only; mixed: `minimum` on-demand tasks first, the rest Spot."""
    if capacity == "fargate":
        return [aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE", weight=1)]
    if capacity == "fargate-spot":
        return [aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=1)]
    return [
        aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE", base=minimum, weight=0),
        aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=1),
    ]
