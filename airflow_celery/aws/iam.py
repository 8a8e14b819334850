"""IAM: one task EXECUTION role per ECS role (pull, logs, exactly that role's secrets) and the task role (S3 logs)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.logs import TASK_LOG_PREFIX
from airflow_celery.cluster.env import secrets_of
from airflow_celery.cluster.queues import WorkerQueue
from airflow_celery.cluster.roles import ENTRYPOINT_ROLES, MIGRATE, SCHEDULER, WORKER, Role
from airflow_celery.cluster.secrets import SecretName

EXECUTION_POLICY = "policy/service-role/AmazonECSTaskExecutionRolePolicy"


def assume_by_ecs_tasks() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def read_secrets_policy(secret_arns: list[str]) -> str:
    """Read exactly these secrets and nothing else."""
    statement = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": sorted(secret_arns)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def task_log_policy(bucket_arn: str) -> str:
    """List the bucket, read and write objects under the task-log prefix only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn]},
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": [f"{bucket_arn}/{TASK_LOG_PREFIX}/*"],
                },
            ],
        }
    )


def task_secret_names(r: Role) -> set[SecretName]:
    """Every secret the containers of role `r`'s task read: its own, and those of the sidecars in its task."""
    containers = [r.name, *(other.name for other in ENTRYPOINT_ROLES if other.runs_with == r.name)]
    return {name for container in containers for name in secrets_of(container).values()}


def legacy_shared_secret_names(roles: Sequence[Role]) -> set[SecretName]:
    """What the former shared execution role read: every secret of every task (migrate's included, which ran in
    the scheduler's task then)."""
    return {name for r in (*roles, MIGRATE) for name in task_secret_names(r)}


def execution_secret_names(r: Role, roles: Sequence[Role]) -> set[SecretName]:
    """The secrets `r`'s execution role may read: exactly its task's, except for the heir of the shared role.

    KEEP FOR ONE RELEASE (remove in the release after 0.1.0): task definitions registered before one execution role
    per task still name the shared role, which is now the scheduler's (SHARED_EXECUTION_ROLE_HEIR). ECS reads
    secrets with a task definition's execution role whenever it starts one of its tasks: during the first deploy
    after the upgrade, an old api-server or worker task that fails its health check is replaced from its old task
    definition, before its service has moved on. That task must still read its secrets, so the heir keeps the
    union for one release. No circuit-breaker rollback reaches it any more (rollback is off, ecs.py), but that
    replacement of an old task does."""
    if r.name == SHARED_EXECUTION_ROLE_HEIR:
        return legacy_shared_secret_names(roles)
    return task_secret_names(r)


def execution_roles(
    ctx: BuildContext,
    roles: Sequence[Role],
    secret_arns: Mapping[SecretName, pulumi.Output[str]],
    extra_secret_arns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, tuple[aws.iam.Role, list[pulumi.Resource]]]:
    """One execution role per task (migrate's one-off task too), each reading the secrets its containers are given:
    the cluster's own, and `extra_secret_arns` of a role (the git credential of aws/dag_source.py)."""
    extra = extra_secret_arns or {}
    return {
        r.name: execution_role(
            ctx,
            r.name,
            [secret_arns[name] for name in sorted(execution_secret_names(r, roles))]
            + [pulumi.Output.from_input(arn) for arn in extra.get(r.name, ())],
        )
        for r in (*roles, MIGRATE)
    }


SHARED_EXECUTION_ROLE_HEIR = SCHEDULER.name
"""Stacks deployed before one execution role per task had a single shared one: the scheduler's takes it over
(Pulumi aliases), so that role is updated in place rather than deleted while old tasks, or a circuit-breaker
rollback to the previous task definitions, may still use it."""


def _inherited(ctx: BuildContext, role_name: str, suffix: str) -> pulumi.ResourceOptions:
    if role_name != SHARED_EXECUTION_ROLE_HEIR:
        return ctx.opts()
    return pulumi.ResourceOptions.merge(
        ctx.opts(), pulumi.ResourceOptions(aliases=[pulumi.Alias(name=ctx.child_name(suffix))])
    )


def execution_role(
    ctx: BuildContext, role_name: str, secret_arns: Sequence[pulumi.Output[str]]
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """The role ECS uses to start one role's tasks, and its grants: tasks must wait for those, not just the role,
    or the first ones can fail to read their secrets while IAM catches up."""
    role = aws.iam.Role(
        ctx.child_name(role_name, "execution-role"),
        assume_role_policy=assume_by_ecs_tasks(),
        description=f"airflow-celery {ctx.name}: ECS pulls images, writes logs, reads the {role_name} secrets",
        tags=ctx.tags(role_name, "execution-role"),
        opts=_inherited(ctx, role_name, "execution-role"),
    )
    partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent)).partition
    managed = aws.iam.RolePolicyAttachment(
        ctx.child_name(role_name, "execution-role-ecs"),
        role=role.name,
        policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:{EXECUTION_POLICY}"),
        opts=_inherited(ctx, role_name, "execution-role-ecs"),
    )
    secrets = aws.iam.RolePolicy(
        ctx.child_name(role_name, "execution-role-secrets"),
        role=role.id,
        policy=pulumi.Output.all(*secret_arns).apply(read_secrets_policy),
        opts=_inherited(ctx, role_name, "execution-role-secrets"),
    )
    return role, [managed, secrets]


def task_role(ctx: BuildContext, bucket: aws.s3.Bucket, role_name: str | None = None) -> aws.iam.Role:
    """What the containers of a task may do: task logs in S3 (shared), plus a role's own grants (see below)."""
    parts = (role_name, "task-role") if role_name else ("task-role",)
    role = aws.iam.Role(
        ctx.child_name(*parts),
        assume_role_policy=assume_by_ecs_tasks(),
        description=f"airflow-celery {ctx.name}: what Airflow {role_name or 'itself'} may do (task logs in S3"
        + (" and more)" if role_name else ")"),
        tags=ctx.tags(*parts),
        opts=ctx.opts(),
    )
    aws.iam.RolePolicy(
        ctx.child_name(*parts[:-1], "task-role-logs"),
        role=role.id,
        policy=bucket.arn.apply(task_log_policy),
        opts=ctx.opts(),
    )
    return role


def publish_metrics_policy(namespace: str) -> str:
    """PutMetricData into exactly one namespace (the action has no resource: the condition key scopes it), and
    GetMetricStatistics, with which a restarted autoscaler reads back the worker count it last published
    (autoscaler/cloudwatch.py): a read action with neither resource types nor a namespace condition key in the
    Service Authorization Reference, so it cannot be narrowed further."""
    publish = {
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
    }
    read_back = {"Effect": "Allow", "Action": ["cloudwatch:GetMetricStatistics"], "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [publish, read_back]})


def worker_drain_policy(cluster_arn: str, service_name_prefix: str) -> str:
    """What a worker's drain protocol calls (autoscaler/protection.py, autoscaler/ecs_service.py), nothing else.

    - ecs:UpdateTaskProtection and ecs:DescribeTasks on the cluster's own tasks (arn:...:task/<cluster>/<id>):
      the ECS agent's endpoint calls only UpdateTaskProtection for a PUT, with the task role's credentials
      (aws/amazon-ecs-agent, ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go); the worker never
      GETs, so ecs:GetTaskProtection is not granted. DescribeTasks, once, tells the worker which service and
      deployment started it (`group`, `startedBy`).
    - ecs:DescribeServices on the worker service only (arn:...:service/<cluster>/<name>-*: Pulumi's auto-name
      of the service is its resource name plus a random suffix): the PRIMARY deployment and its counts."""
    tasks = cluster_arn.replace(":cluster/", ":task/", 1) + "/*"
    service = cluster_arn.replace(":cluster/", ":service/", 1) + f"/{service_name_prefix}-*"
    statements = [
        {"Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:UpdateTaskProtection"], "Resource": [tasks]},
        {"Effect": "Allow", "Action": ["ecs:DescribeServices"], "Resource": [service]},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def scheduler_task_role(ctx: BuildContext, bucket: aws.s3.Bucket, namespace: str) -> aws.iam.Role:
    """The scheduler's task also runs the autoscaler sidecar, which publishes to the deployment's namespace."""
    role = task_role(ctx, bucket, "scheduler")
    aws.iam.RolePolicy(
        ctx.child_name("scheduler", "task-role-metrics"),
        role=role.id,
        policy=publish_metrics_policy(namespace),
        opts=ctx.opts(),
    )
    return role


def worker_task_role(
    ctx: BuildContext, bucket: aws.s3.Bucket, cluster: aws.ecs.Cluster, queue: WorkerQueue | None = None
) -> aws.iam.Role:
    """A worker protects its own task and drains before it goes (cluster/drain.py, autoscaler/protection.py),
    whatever its queue: each queue's role may describe only its own service. The service's resource name is the one
    aws/ecs.py `service` gives it. An extra queue's role also carries that queue's own policy and managed policies,
    which no other task gets."""
    named = queue.resource_name if queue else WORKER.name
    role = task_role(ctx, bucket, named)
    service_name_prefix = ctx.child_name(named, "service")
    aws.iam.RolePolicy(
        ctx.child_name(named, "task-role-protection"),
        role=role.id,
        policy=cluster.arn.apply(lambda arn: worker_drain_policy(arn, service_name_prefix)),
        opts=ctx.opts(),
    )
    if queue is not None:
        _queue_grants(ctx, role, queue)
    return role


def _queue_grants(ctx: BuildContext, role: aws.iam.Role, queue: WorkerQueue) -> None:
    named = queue.resource_name
    if queue.policy:
        aws.iam.RolePolicy(ctx.child_name(named, "task-role-queue"), role=role.id, policy=queue.policy, opts=ctx.opts())
    for index, arn in enumerate(queue.managed_policy_arns):
        aws.iam.RolePolicyAttachment(
            ctx.child_name(named, f"task-role-managed-{index}"), role=role.name, policy_arn=arn, opts=ctx.opts()
        )


EXEC_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
"""What the task role needs for ECS Exec, and so for a port forward into the task (AWS docs, ECS Developer Guide,
"Monitor Amazon ECS containers with ECS Exec", IAM permissions); these actions take no resource ARN."""


def exec_policy() -> str:
    statement = {"Effect": "Allow", "Action": list(EXEC_ACTIONS), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def flower_task_role(ctx: BuildContext) -> aws.iam.Role:
    """Flower's task may open the ECS Exec channels of the port forward, and nothing else: it writes no task logs."""
    role = aws.iam.Role(
        ctx.child_name("flower", "task-role"),
        assume_role_policy=assume_by_ecs_tasks(),
        description=f"airflow-celery {ctx.name}: Flower, reached only through an ECS Exec port forward",
        tags=ctx.tags("flower", "task-role"),
        opts=ctx.opts(),
    )
    aws.iam.RolePolicy(ctx.child_name("flower", "task-role-exec"), role=role.id, policy=exec_policy(), opts=ctx.opts())
    return role
