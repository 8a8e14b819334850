"""Alarms on the cluster, an SNS topic they notify, and the metrics they read.

Every alarm is first a plain `AlarmSpec` (a PutMetricAlarm request, built from the config, the cluster
description and the capacity limits), so the tests can check it against botocore's model and against the
catalogue of metrics something really publishes (`published_metrics`). `alarms()` then registers each spec as a
`aws.cloudwatch.MetricAlarm`; dimension values may be Pulumi Outputs there, plain strings in the tests.

Thresholds are not magic numbers: the database connection alarm fires above the connection budget's steady
state (cluster/limits.py), the storage alarm where RDS storage autoscaling would already have grown the volume,
the api-server alarm below the configured count of api-servers, the queue alarm after a worker's start-up
deadline (cluster/roles.py) plus the scaling period.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, METRICS, QUEUED_METRIC, namespace
from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.scaling import METRIC_PERIOD
from airflow_celery.cluster.limits import connection_budget
from airflow_celery.cluster.metrics import metric as airflow_metric
from airflow_celery.cluster.metrics import published_names
from airflow_celery.cluster.roles import SCHEDULER, STARTUP_DEADLINE

ECS = "AWS/ECS"
INSIGHTS = "ECS/ContainerInsights"
RDS = "AWS/RDS"
ALB = "AWS/ApplicationELB"
ELASTICACHE = "AWS/ElastiCache"

FAILED_TASKS_METRIC = "FailedTasks"
"""Published by a metric filter on the scheduler's log group (`failed_tasks_filter`)."""
FAILED_TASK_PATTERN = '"TaskInstance Finished" "state=failed, executor="'
"""The scheduler logs one `TaskInstance Finished: ..., state=%s, executor=%s, executor_state=%s, ...` line per
finished try (airflow/jobs/scheduler_job_runner.py, `_process_executor_events`); `state=failed, executor=`
matches the task's own state only, never `executor_state=failed` of a try that goes up for retry."""

AWS_PUBLISHED: Mapping[str, frozenset[str]] = {
    ECS: frozenset({"CPUUtilization", "MemoryUtilization"}),
    INSIGHTS: frozenset({"RunningTaskCount", "DesiredTaskCount", "CpuUtilized", "MemoryUtilized"}),
    RDS: frozenset({"CPUUtilization", "DatabaseConnections", "FreeStorageSpace", "FreeableMemory"}),
    ALB: frozenset({"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "TargetResponseTime",
                    "HealthyHostCount", "UnHealthyHostCount", "RequestCount"}),
    ELASTICACHE: frozenset({"DatabaseMemoryUsagePercentage", "EngineCPUUtilization"}),
}  # fmt: skip
"""Metrics AWS publishes for the resources the component creates (ECS service metrics always; Container
Insights' only with container_insights; RDS, ALB and ElastiCache always), as their CloudWatch pages list them."""

DB_CPU_PERCENT = 80.0
"""A burstable db.t4g class earns CPU credits below its baseline (20-40 %); 80 % for 15 minutes spends them."""
DB_FREE_STORAGE_SHARE = 0.10
"""RDS storage autoscaling grows the volume when free space falls under 10 % (its documented trigger): still
under it 30 minutes later means the volume is at db_max_allocated_storage or autoscaling is off."""
ALB_5XX_PER_MINUTE = 5
"""5xx answers per minute, 3 minutes of 5, that page someone: single errors happen on every rolling deploy."""
SUSTAINED_MINUTES = 15
"""How long a resource must stay near its limit before an alarm fires: longer than a rolling deploy."""
WORKERS_AT_MAX_MINUTES = 30
"""The autoscaler asking for worker_max_count this long: the cluster is at its ceiling, raise worker_max_count."""
GIB = 1024**3


def queued_minutes() -> int:
    """Minutes the queue may stay non-empty: a worker's start-up deadline (cluster/roles.py) plus two scaling
    periods (the autoscaler's decision and Application Auto Scaling's action)."""
    return math.ceil((STARTUP_DEADLINE + 2 * METRIC_PERIOD) / 60)


@dataclass(frozen=True)
class Watched:
    """The names alarms and widgets point at: plain strings in tests, Pulumi Outputs in a deployment."""

    cluster: Any
    services: Mapping[str, Any]
    """Role name -> its ECS service name."""
    db_instance: Any
    load_balancer: Any
    """The load balancer's ARN suffix (its CloudWatch dimension)."""
    api_target_group: Any
    """The api-server target group's ARN suffix."""
    redis_cluster: Any = None
    """ElastiCache's primary cache cluster id, when redis_mode is elasticache."""


@dataclass(frozen=True)
class AlarmSpec:
    """One PutMetricAlarm request; `key` names its Pulumi resource (`<component>-alarm-<key>`)."""

    key: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, Any]
    statistic: str
    threshold: float
    comparison: str
    evaluation_periods: int
    period: int = METRIC_PERIOD
    datapoints: int | None = None
    missing: str = "notBreaching"
    extra: dict[str, Any] = field(default_factory=dict)

    def request(self, name: str, actions: list[str]) -> dict[str, Any]:
        """The PutMetricAlarm request, as botocore's cloudwatch model names its members."""
        return {
            "AlarmName": name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions.items()],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.datapoints or self.evaluation_periods,
            "Threshold": float(self.threshold),
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.missing,
            "AlarmActions": actions,
            "OKActions": actions,
        }


def alarm_specs(config: ResolvedArgs, watched: Watched) -> list[AlarmSpec]:
    """Every alarm of the cluster; which exist depends on the config (autoscaling, Container Insights, broker)."""
    services = watched.services
    db = {"DBInstanceIdentifier": watched.db_instance}
    budget = connection_budget(config.capacity)
    specs = [
        AlarmSpec("api-server-unhealthy",
                  f"Fewer than {config.api_server_count} healthy api-servers behind the load balancer for 5 minutes: "
                  "the UI and every running task's heartbeats depend on them.",
                  ALB, "HealthyHostCount",
                  {"TargetGroup": watched.api_target_group, "LoadBalancer": watched.load_balancer},
                  "Minimum", config.api_server_count, "LessThanThreshold", 5, missing="breaching"),
        AlarmSpec("alb-5xx", f"More than {ALB_5XX_PER_MINUTE} 5xx answers from the api-servers a minute, 3 minutes "
                  "of 5.", ALB, "HTTPCode_Target_5XX_Count", {"LoadBalancer": watched.load_balancer},
                  "Sum", ALB_5XX_PER_MINUTE, "GreaterThanThreshold", 5, datapoints=3),
        AlarmSpec("alb-no-target", "The load balancer answered 5xx itself (no healthy api-server), 3 minutes of 5.",
                  ALB, "HTTPCode_ELB_5XX_Count", {"LoadBalancer": watched.load_balancer},
                  "Sum", ALB_5XX_PER_MINUTE, "GreaterThanThreshold", 5, datapoints=3),
        AlarmSpec("db-cpu", f"Database CPU above {DB_CPU_PERCENT:g} % for {SUSTAINED_MINUTES} minutes.",
                  RDS, "CPUUtilization", db, "Average", DB_CPU_PERCENT, "GreaterThanThreshold", SUSTAINED_MINUTES),
        AlarmSpec("db-connections",
                  f"More than {budget.steady + budget.reserved} database connections for {SUSTAINED_MINUTES} minutes: "
                  f"above the cluster's own worst case outside a deploy ({budget.describe()}); a leak or an outside "
                  "client is using the headroom the next deploy needs.",
                  RDS, "DatabaseConnections", db, "Maximum", budget.steady + budget.reserved,
                  "GreaterThanThreshold", SUSTAINED_MINUTES),
        AlarmSpec("db-storage",
                  f"Less than {DB_FREE_STORAGE_SHARE:.0%} of the database's first {config.db_allocated_storage} GiB "
                  "free for 30 minutes: storage autoscaling cannot grow it further (db_max_allocated_storage).",
                  RDS, "FreeStorageSpace", db, "Minimum", DB_FREE_STORAGE_SHARE * config.db_allocated_storage * GIB,
                  "LessThanThreshold", 6, period=300),
    ]  # fmt: skip
    if config.container_insights:
        specs.append(AlarmSpec(
            "scheduler-down",
            f"Fewer than {config.scheduler_count} scheduler tasks running for 5 minutes. ECS replaces a scheduler "
            "whose health check (its job heartbeat, /health) fails; staying below means it cannot start.",
            INSIGHTS, "RunningTaskCount", {"ClusterName": watched.cluster, "ServiceName": services[SCHEDULER.name]},
            "Minimum", config.scheduler_count, "LessThanThreshold", 5, missing="breaching"))  # fmt: skip
    if config.airflow_metrics:
        specs += airflow_alarm_specs(config)
    if config.autoscaling:
        custom = namespace(config.name)
        specs += [
            AlarmSpec("autoscaler-silent",
                      f"No {DESIRED_METRIC} for 5 minutes: the autoscaler (in the scheduler's task) is down, or no "
                      "scheduler runs; the worker count stays where it was.",
                      custom, DESIRED_METRIC, {}, "SampleCount", 1, "LessThanThreshold", 5, missing="breaching"),
            AlarmSpec("tasks-queued",
                      f"Tasks queued and the queue never empty for {queued_minutes()} minutes (a worker's start-up "
                      "deadline and two scaling periods): workers do not start or do not take tasks.",
                      custom, QUEUED_METRIC, {}, "Minimum", 1, "GreaterThanOrEqualToThreshold", queued_minutes()),
            AlarmSpec("workers-at-max",
                      f"The autoscaler asked for worker_max_count ({config.worker_max_count}) for "
                      f"{WORKERS_AT_MAX_MINUTES} minutes: tasks wait for slots; raise worker_max_count.",
                      custom, DESIRED_METRIC, {}, "Minimum", config.worker_max_count,
                      "GreaterThanOrEqualToThreshold", WORKERS_AT_MAX_MINUTES),
        ]  # fmt: skip
    return specs


HEARTBEAT_MINUTES = 5
"""Minutes without one heartbeat of a role before its alarm fires: a job heartbeats every few seconds
([scheduler] scheduler_heartbeat_sec 5, [triggerer] job_heartbeat_sec 5), and ECS replaces a stuck scheduler
after its health check's 5 failures 30 s apart, so staying silent this long means it cannot come back."""


def _airflow(name: str, key: str, description: str, statistic: str, threshold: float, comparison: str,
             periods: int, config: ResolvedArgs, missing: str = "notBreaching") -> AlarmSpec:  # fmt: skip
    """An alarm on one of Airflow's own metrics, as the metrics agent publishes it (cluster/metrics.py)."""
    found = airflow_metric(name)
    return AlarmSpec(key, description, namespace(config.name), found.published_name(), found.dimensions,
                     statistic, threshold, comparison, periods, missing=missing)  # fmt: skip


def airflow_alarm_specs(config: ResolvedArgs) -> list[AlarmSpec]:
    """Alarms on Airflow's metrics: a role that stopped heartbeating, lost tasks, DAG files that do not import."""
    beat = HEARTBEAT_MINUTES
    return [
        _airflow("scheduler_heartbeat", "scheduler-heartbeat",
                 f"No scheduler heartbeat for {beat} minutes: nothing schedules or sends tasks.",
                 "Sum", 1, "LessThanThreshold", beat, config, missing="breaching"),
        _airflow("dag_processor_heartbeat", "dag-processor-heartbeat",
                 f"No dag-processor heartbeat for {beat} minutes: DAG files are not parsed, changes do not arrive.",
                 "Sum", 1, "LessThanThreshold", beat, config, missing="breaching"),
        _airflow("triggerer_heartbeat", "triggerer-heartbeat",
                 f"No triggerer heartbeat for {beat} minutes: deferred tasks and sensors never resume.",
                 "Sum", 1, "LessThanThreshold", beat, config, missing="breaching"),
        _airflow("task_instances_without_heartbeats_killed", "tasks-lost",
                 "The scheduler failed running tasks whose heartbeats stopped (a lost worker: Spot reclaim, OOM, "
                 "a kill); tasks with retries left run again.",
                 "Sum", 1, "GreaterThanOrEqualToThreshold", 1, config),
        _airflow("dag_processing.import_errors", "dag-import-errors",
                 f"DAG files failed to import for {SUSTAINED_MINUTES} minutes: their DAGs keep their last parsed "
                 "version or vanish from the UI.",
                 "Maximum", 1, "GreaterThanOrEqualToThreshold", SUSTAINED_MINUTES, config),
    ]  # fmt: skip


def published_metrics(config: ResolvedArgs) -> dict[str, frozenset[str]]:
    """Namespace -> metric names that something publishes for this config: AWS for its services, the
    autoscaler (with autoscaling), the failed-task metric filter and the metrics agents (Airflow's own metrics,
    with the default pool) into the deployment's own namespace."""
    found = {ns: names for ns, names in AWS_PUBLISHED.items() if ns != INSIGHTS or config.container_insights}
    if config.redis_mode != "elasticache":
        found.pop(ELASTICACHE)
    custom = {FAILED_TASKS_METRIC, *(METRICS if config.autoscaling else ())}
    custom |= set(published_names() if config.airflow_metrics else ())
    found[namespace(config.name)] = frozenset(custom)
    return found


ALARM_ACTIONS_PRINCIPAL = "cloudwatch.amazonaws.com"
"""The service principal that runs alarm actions, i.e. publishes to the topic."""
TOPIC_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]
"""What a publisher needs on an encrypted topic's key: CloudWatch alarms (AWS re:Post knowledge center,
"cloudwatch-configure-alarm-sns": the key policy grants cloudwatch.amazonaws.com kms:Decrypt and
kms:GenerateDataKey*) and any other principal (SNS developer guide, "Key management", sns-key-management.html:
publishers need kms:GenerateDataKey* and kms:Decrypt on the key)."""
KEY_DELETION_DAYS = 7
"""AWS KMS's shortest waiting period: a destroyed stack's key stops costing at once and is gone within a week."""


@dataclass(frozen=True)
class AlarmTopic:
    """The alarms' topic and the customer-managed key it is encrypted with."""

    topic: aws.sns.Topic
    key: aws.kms.Key

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.topic.arn


def topic_key_policy(partition: str, account_id: str) -> str:
    """The key policy of the topic's key: the account (so IAM policies, such as the dag-processor's, can grant its
    use; KMS's default key policy statement) and CloudWatch's alarm actions, exactly the two actions a publisher
    needs. SNS's AWS-managed key (alias/aws/sns) cannot carry the second statement: AWS maintains its policy, which
    does not admit cloudwatch.amazonaws.com, so an alarm's action fails with "CloudWatch Alarms does not have
    authorization to access the SNS topic encryption key" and nobody is notified (AWS re:Post knowledge center,
    https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns; SNS developer guide,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html, "Enable compatibility between event sources
    from AWS services and encrypted topics"). The re:Post page's statement has no condition; none is added here, as
    no AWS page read for this change shows which condition keys CloudWatch's KMS requests carry, and a condition
    they lack would drop every notification again."""
    account = {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    alarms = {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": ALARM_ACTIONS_PRINCIPAL},
              "Action": TOPIC_KEY_ACTIONS, "Resource": "*"}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [account, alarms]})


def topic_key(ctx: BuildContext) -> aws.kms.Key:
    """A customer-managed key for the alarms' topic ($1 a month, `plan` prices it), rotated yearly, with an alias
    `alias/<name>-alarms-<suffix>` (a prefix, as Pulumi auto-names: two stacks of one name in an account differ)."""
    opts = pulumi.InvokeOutputOptions(parent=ctx.parent)
    partition = aws.get_partition_output(opts=opts).partition
    account_id = aws.get_caller_identity_output(opts=opts).account_id
    key = aws.kms.Key(
        ctx.child_name("alarms", "key"),
        description=f"airflow-celery {ctx.name}: encrypts the alarms' SNS topic; CloudWatch alarm actions may use it",
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_DAYS,
        policy=pulumi.Output.all(partition, account_id).apply(lambda found: topic_key_policy(*found)),
        tags=ctx.tags("alarms", "key"),
        opts=ctx.opts(),
    )
    aws.kms.Alias(
        ctx.child_name("alarms", "key-alias"),
        name_prefix=f"alias/{ctx.child_name('alarms')}-",
        target_key_id=key.key_id,
        opts=ctx.opts(),
    )
    return key


def topic(ctx: BuildContext) -> AlarmTopic:
    """The alarms' topic, encrypted with its own customer-managed key (`topic_key`: SNS's AWS-managed key would
    silently drop every alarm's notification); an email subscription with alarm_email (the address confirms it
    once from the mail AWS sends)."""
    key = topic_key(ctx)
    sns = aws.sns.Topic(
        ctx.child_name("alarms"),
        kms_master_key_id=key.arn,
        tags=ctx.tags("alarms"),
        opts=ctx.opts(),
    )
    if ctx.config.alarm_email:
        aws.sns.TopicSubscription(
            ctx.child_name("alarms", "email"),
            topic=sns.arn,
            protocol="email",
            endpoint=ctx.config.alarm_email,
            opts=ctx.opts(),
        )
    return AlarmTopic(sns, key)


def failure_publish_policy(topic_arn: str, key_arn: str) -> str:
    """sns:Publish on the one topic, and what publishing to a topic encrypted with a customer-managed key takes:
    kms:GenerateDataKey* and kms:Decrypt on that key alone (SNS developer guide, "Key management",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    publish = {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic_arn}
    encrypt = {"Effect": "Allow", "Action": TOPIC_KEY_ACTIONS, "Resource": key_arn}
    return json.dumps({"Version": "2012-10-17", "Statement": [publish, encrypt]})


def grant_failure_publish(ctx: BuildContext, role_name: str, role: aws.iam.Role, sns: AlarmTopic) -> aws.iam.RolePolicy:
    """The role that runs DAG callbacks (the dag-processor) may announce failed runs on the topic, nothing more."""
    return aws.iam.RolePolicy(
        ctx.child_name(role_name, "task-role-dag-failures"),
        role=role.id,
        policy=pulumi.Output.all(sns.arn, sns.key.arn).apply(lambda found: failure_publish_policy(*found)),
        opts=ctx.opts(),
    )


def failed_tasks_filter(ctx: BuildContext, scheduler_logs: aws.cloudwatch.LogGroup) -> aws.cloudwatch.LogMetricFilter:
    """Counts failed task tries from the scheduler's own log line into the deployment's namespace."""
    return aws.cloudwatch.LogMetricFilter(
        ctx.child_name("failed-tasks"),
        log_group_name=scheduler_logs.name,
        pattern=FAILED_TASK_PATTERN,
        metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
            name=FAILED_TASKS_METRIC, namespace=namespace(ctx.name), value="1", default_value="0", unit="Count"
        ),
        opts=ctx.opts(),
    )


def alarms(ctx: BuildContext, watched: Watched, sns: AlarmTopic) -> list[aws.cloudwatch.MetricAlarm]:
    created = []
    for spec in alarm_specs(ctx.config, watched):
        created.append(
            aws.cloudwatch.MetricAlarm(
                ctx.child_name("alarm", spec.key),
                alarm_description=f"airflow-celery {ctx.name}: {spec.description}",
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=dict(spec.dimensions) or None,
                statistic=spec.statistic,
                period=spec.period,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints or spec.evaluation_periods,
                threshold=float(spec.threshold),
                comparison_operator=spec.comparison,
                treat_missing_data=spec.missing,
                alarm_actions=[sns.arn],
                ok_actions=[sns.arn],
                tags=ctx.tags("alarm", spec.key),
                opts=ctx.opts(),
            )
        )
    return created


def watched_of(
    cluster: aws.ecs.Cluster,
    services: Mapping[str, aws.ecs.Service],
    db: aws.rds.Instance,
    alb: aws.lb.LoadBalancer,
    api_target_group: aws.lb.TargetGroup,
    redis: aws.elasticache.ReplicationGroup | None = None,
) -> Watched:
    return Watched(
        cluster=cluster.name,
        services={name: service.name for name, service in services.items()},
        db_instance=db.identifier,
        load_balancer=alb.arn_suffix,
        api_target_group=api_target_group.arn_suffix,
        redis_cluster=None if redis is None else redis.member_clusters.apply(lambda ids: sorted(ids)[0]),
    )


def observe(
    ctx: BuildContext, watched: Watched, scheduler_logs: aws.cloudwatch.LogGroup, sns: AlarmTopic
) -> tuple[AlarmTopic, list[aws.cloudwatch.MetricAlarm]]:
    """The failed-task metric, the alarms on their topic (`topic`, created before the task definitions: the
    dag-processor's may name it), and the dashboard."""
    from airflow_celery.aws import dashboard

    failed_tasks_filter(ctx, scheduler_logs)
    dashboard.dashboard(ctx, watched)
    created = alarms(ctx, watched, sns)
    if ctx.config.hibernation is not None:
        quiet_while_asleep(ctx, created)
    return sns, created


ACTIONS = {"disable": "disableAlarmActions", "enable": "enableAlarmActions"}
"""EventBridge Scheduler's universal targets for CloudWatch's DisableAlarmActions and EnableAlarmActions."""


def quiet_hours(config: ResolvedArgs) -> dict[str, int]:
    """Alarm actions go off when the stack goes to sleep, and back on an hour after it wakes: its services and
    its database need that long to start (a worker's start-up deadline alone is 7.5 minutes)."""
    sleep = config.hibernation
    assert sleep is not None
    return {"disable": sleep.sleep, "enable": min(sleep.wake + 1, sleep.sleep)}


def quiet_while_asleep(ctx: BuildContext, created: list[aws.cloudwatch.MetricAlarm]) -> None:
    """A hibernating stack's alarms would fire at every sleep (no scheduler, no api-server): their actions are
    disabled on the sleep schedule and enabled after waking, by a role that may do only that to these alarms."""
    from airflow_celery.aws.hibernation import cron

    sleep = ctx.config.hibernation
    assert sleep is not None
    role = aws.iam.Role(
        ctx.child_name("alarms", "quiet-role"),
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        description=f"airflow-celery {ctx.name}: EventBridge Scheduler turns alarm actions off while it sleeps",
        tags=ctx.tags("alarms", "quiet-role"),
        opts=ctx.opts(),
    )  # fmt: skip
    grant = aws.iam.RolePolicy(
        ctx.child_name("alarms", "quiet-policy"),
        role=role.id,
        policy=pulumi.Output.all(*[a.arn for a in created]).apply(lambda arns: quiet_policy(list(arns))),
        opts=ctx.opts(),
    )
    names = pulumi.Output.all(*[a.name for a in created]).apply(lambda found: json.dumps({"AlarmNames": found}))
    for when, hour in quiet_hours(ctx.config).items():
        aws.scheduler.Schedule(
            ctx.child_name("alarms", when),
            schedule_expression=cron(hour, sleep.days),
            schedule_expression_timezone=sleep.timezone,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=f"arn:aws:scheduler:::aws-sdk:cloudwatch:{ACTIONS[when]}", role_arn=role.arn, input=names
            ),
            opts=ctx.opts(depends_on=[grant]),
        )


def quiet_policy(alarm_arns: list[str]) -> str:
    statement = {"Effect": "Allow", "Action": ["cloudwatch:DisableAlarmActions", "cloudwatch:EnableAlarmActions"],
                 "Resource": sorted(alarm_arns)}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
