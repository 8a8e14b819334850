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
from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.metrics import DEFAULT_POOLS
from airflow_celery.cluster.metrics import metric as airflow_metric
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


def widgets(config: ResolvedArgs, watched: Watched, region: str) -> list[dict[str, Any]]:
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
    if config.airflow_metrics:
        found += airflow_widgets(custom)
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


def _airflow(custom: str, name: str, pool: str | None = None, **options: Any) -> list[Any]:
    """A widget line for one of Airflow's own metrics, with the dimension the metrics agent adds."""
    found = airflow_metric(name)
    line: list[Any] = [custom, found.published_name(pool), *(x for kv in found.dimensions.items() for x in kv)]
    return [*line, options] if options else line


def airflow_widgets(custom: str) -> list[dict[str, Any]]:
    """Airflow's own metrics (cluster/metrics.py): the scheduler, the slots, the tasks, the other roles."""
    pool = DEFAULT_POOLS[0]
    return [
        _widget("Scheduler loop (ms)", [_airflow(custom, "scheduler.scheduler_loop_duration", label="average"),
                                        _airflow(custom, "scheduler.scheduler_loop_duration", stat="Maximum",
                                                 label="longest")]),
        _widget("Executor: open slots, queued, running", [
            _airflow(custom, "executor.open_slots", label="open slots"),
            _airflow(custom, "executor.queued_tasks", label="queued in the executor"),
            _airflow(custom, "executor.running_tasks", label="running")], "Maximum"),
        _widget(f"Pool {pool}: open, queued, running", [
            _airflow(custom, "pool.open_slots", pool, label="open"),
            _airflow(custom, "pool.queued_slots", pool, label="queued"),
            _airflow(custom, "pool.running_slots", pool, label="running")], "Maximum"),
        _widget("Task duration (ms, all tasks)", [_airflow(custom, "task.duration", label="average"),
                                                  _airflow(custom, "task.duration", stat="Maximum", label="longest"),
                                                  _airflow(custom, "task.duration", stat="SampleCount",
                                                           label="tasks ended", yAxis="right")]),
        _widget("Heartbeats a minute", [_airflow(custom, "scheduler_heartbeat", label="scheduler"),
                                        _airflow(custom, "dag_processor_heartbeat", label="dag-processor"),
                                        _airflow(custom, "triggerer_heartbeat", label="triggerer")], "Sum"),
        _widget("Lost tasks, import errors, triggers", [
            _airflow(custom, "task_instances_without_heartbeats_killed", label="tasks lost (no heartbeat)"),
            _airflow(custom, "dag_processing.import_errors", stat="Maximum", label="DAG import errors"),
            _airflow(custom, "triggers.running", stat="Maximum", label="triggers running"),
            _airflow(custom, "triggers.blocked_main_thread", label="triggers blocking the loop"),
            _airflow(custom, "triggers.failed", label="triggers failed")], "Sum"),
    ]  # fmt: skip


def dashboard_body(config: ResolvedArgs, watched: Watched, region: str) -> dict[str, Any]:
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
