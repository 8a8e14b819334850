"""One CloudWatch dashboard per stack, generated from the cluster description like the docs.

`dashboard_body` is plain Python over plain names (tests check every metric it names against the published
catalogue and botocore's `Metric` shape); `dashboard` renders it once the resources' names are known.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, QUEUED_METRIC, RUNNING_METRIC, namespace
from airflow_celery.aws.alarms import (
    ALB,
    ECS,
    ELASTICACHE,
    FAILED_TASKS_METRIC,
    INSIGHTS,
    RDS,
    Watched,
)
from airflow_celery.aws.args import ClusterConfig
from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import REDIS, WORKER

WIDTH = 12
HEIGHT = 6
PERIOD = 60


def _widget(title: str, metrics: list[list[Any]], stat: str = "Average", period: int = PERIOD) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {"title": title, "metrics": metrics, "stat": stat, "period": period, "view": "timeSeries"},
    }


def _per_role(metric: str, watched: Watched) -> list[list[Any]]:
    return [
        [ECS, metric, "ClusterName", watched.cluster, "ServiceName", service, {"label": role}]
        for role, service in watched.services.items()
    ]


def widgets(config: ClusterConfig, watched: Watched, region: str) -> list[dict[str, Any]]:
    """The widgets in reading order: the roles, the tasks, the workers, the database, the broker, the ALB."""
    custom = namespace(config.name)
    db = ["DBInstanceIdentifier", watched.db_instance]
    found = [
        _widget("CPU % per role", _per_role("CPUUtilization", watched)),
        _widget("Memory % per role", _per_role("MemoryUtilization", watched)),
    ]
    if config.autoscaling:
        tasks = [[custom, QUEUED_METRIC], [custom, RUNNING_METRIC]]
        found.append(_widget("Queued and running tasks", tasks, "Maximum"))
    workers = [[custom, DESIRED_METRIC, {"label": "desired"}]] if config.autoscaling else []
    if config.container_insights:
        workers.append([INSIGHTS, "RunningTaskCount", "ClusterName", watched.cluster,
                        "ServiceName", watched.services[WORKER.name], {"label": "running"}])  # fmt: skip
    if workers:
        found.append(_widget("Workers: desired and running", workers, "Maximum"))
    found += [
        _widget("Failed tasks (not retried)", [[custom, FAILED_TASKS_METRIC]], "Sum", 300),
        _widget("Database CPU % and connections", [[RDS, "CPUUtilization", *db],
                                                   [RDS, "DatabaseConnections", *db, {"yAxis": "right"}]]),
        _widget("Database free storage (bytes)", [[RDS, "FreeStorageSpace", *db]], "Minimum", 300),
    ]  # fmt: skip
    if config.redis_mode == "elasticache":
        redis = [[ELASTICACHE, "DatabaseMemoryUsagePercentage", "CacheClusterId", watched.redis_cluster]]
        found.append(_widget("Redis memory %", redis, "Maximum"))
    else:
        redis = [[ECS, "MemoryUtilization", "ClusterName", watched.cluster, "ServiceName",
                  watched.services[REDIS.name]]]  # fmt: skip
        found.append(_widget("Redis memory % (its Fargate task)", redis, "Maximum"))
    lb = ["LoadBalancer", watched.load_balancer]
    found += [
        _widget("Load balancer 5xx", [[ALB, "HTTPCode_Target_5XX_Count", *lb], [ALB, "HTTPCode_ELB_5XX_Count", *lb]],
                "Sum"),
        _widget("Load balancer latency (s)", [[ALB, "TargetResponseTime", *lb, {"stat": "p99"}],
                                              [ALB, "TargetResponseTime", *lb, {"stat": "p50"}]]),
    ]  # fmt: skip
    for widget in found:
        widget["properties"]["region"] = region
    return found


def dashboard_body(config: ClusterConfig, watched: Watched, region: str) -> dict[str, Any]:
    """The PutDashboard body: widgets two a row, in the order `widgets` gives."""
    placed = []
    for index, widget in enumerate(widgets(config, watched, region)):
        placed.append({**widget, "x": (index % 2) * WIDTH, "y": (index // 2) * HEIGHT})
    return {"widgets": placed}


def dashboard_name(name: str) -> str:
    """Unique per project, stack and component in an account's region; CloudWatch allows letters, digits, - and _."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}")


def dashboard(ctx: BuildContext, watched: Watched) -> aws.cloudwatch.Dashboard:
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent)).region
    names = pulumi.Output.all(
        cluster=watched.cluster,
        services=pulumi.Output.all(**dict(watched.services)),
        db=watched.db_instance,
        lb=watched.load_balancer,
        tg=watched.api_target_group,
        redis=watched.redis_cluster,
        region=region,
    )
    body = names.apply(
        lambda v: json.dumps(
            dashboard_body(
                ctx.config,
                Watched(v["cluster"], v["services"], v["db"], v["lb"], v["tg"], v["redis"]),
                v["region"],
            )
        )
    )
    return aws.cloudwatch.Dashboard(
        ctx.child_name("dashboard"),
        dashboard_name=dashboard_name(ctx.name),
        dashboard_body=body,
        opts=ctx.opts(),
    )
