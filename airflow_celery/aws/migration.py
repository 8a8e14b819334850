"""Migrate as its own step of `pulumi up`: a one-off ECS task that finishes before any service changes.

How Pulumi runs it and waits: an `aws.lambda_.Invocation` of a small Lambda function (migration_runner.py, shipped
inline) that calls RunTask, waits for the task to stop and raises on anything but exit code 0. The Invocation is a
resource of the AWS provider itself (Terraform's aws_lambda_invocation): it invokes synchronously and fails the
update when the response carries a FunctionError (terraform-provider-aws internal/service/lambda/invocation.go,
`invoke`); with the default lifecycle scope CREATE_ONLY a changed `input` forces a new invocation
(`customizeDiffInputChangeWithCreateOnlyScope`). Every ECS service depends on it.

Why this and not something else: the component also runs inside the multi-language component provider
(provider/, aws/provider.py), where dynamic providers do not load (pulumi/pulumi#5455: the dynamic provider
plugin is started in the program's directory and language, not the component's), and pulumi-command would need
an AWS CLI on the machine that runs `pulumi up`. An Invocation, a Function and IAM resources are ordinary
resources of the AWS provider: registered from a program or from the component provider alike.

Re-run when: the migrate task definition gets a new revision (a new image digest, a changed environment or a new
secret value) or a service it may stop gets a new task definition, because all of these are in the input.
Lambda runs at most 15 minutes: a longer migration fails the step while its task keeps running, and the next
`pulumi up` waits for it through the migrate lock (entrypoint/migrate.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.ecs import role_size, runtime_platform
from airflow_celery.aws.task_definition import TaskInputs, container_definitions_json
from airflow_celery.cluster.env import reads_metadata_db
from airflow_celery.cluster.roles import MIGRATE, Kind, Role

RUNNER_MODULE = "migration_runner.py"
RUNNER_RUNTIME = "python3.12"
RUNNER_TIMEOUT = 900
"""Lambda's maximum (seconds): the whole step, stopping the services included, must fit in it."""


def stopped_for_migrations(roles: Sequence[Role]) -> list[Role]:
    """The services that read the metadata database: stopped while a pending migration runs. Workers, Flower and
    Redis keep running (they never open Airflow's tables; a worker's tasks wait for the api-server with retries)."""
    return [r for r in roles if r.kind is Kind.AIRFLOW and reads_metadata_db(r.name)]


@dataclass(frozen=True)
class MigrationWiring:
    cluster: aws.ecs.Cluster
    subnet_ids: list[pulumi.Input[str]]
    security_group: aws.ec2.SecurityGroup
    execution_role: aws.iam.Role
    task_depends_on: list[pulumi.Resource]
    log_group: aws.cloudwatch.LogGroup
    services: Mapping[str, tuple[aws.ecs.TaskDefinition, int]]
    """Role name -> (its new task definition, its count), for every service stopped for a migration."""
    passed_roles: list[pulumi.Output[str]]
    """The execution and task roles of the migrate task and of those services' task definitions."""


def migrate_task_definition(
    ctx: BuildContext, inputs: pulumi.Output[TaskInputs], wiring: MigrationWiring
) -> aws.ecs.TaskDefinition:
    """Migrate's own task: the image and env contract of every role, its own execution role (migrate's secrets
    only), and no task role: it calls no AWS API."""
    cpu, memory = role_size(ctx, MIGRATE)
    return aws.ecs.TaskDefinition(
        ctx.child_name(MIGRATE.name, "task"),
        family=ctx.child_name(MIGRATE.name),
        cpu=str(cpu),
        memory=str(memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=runtime_platform(ctx),
        execution_role_arn=wiring.execution_role.arn,
        container_definitions=inputs.apply(lambda plain: container_definitions_json(MIGRATE, plain)),
        tags=ctx.tags(MIGRATE.name, "task"),
        opts=ctx.opts(depends_on=wiring.task_depends_on),
    )


def runner_source() -> str:
    return resources.files("airflow_celery.aws").joinpath(RUNNER_MODULE).read_text()


def runner_policy(cluster_arn: str, task_family_arn: str, log_group_arn: str, passed_roles: Sequence[str]) -> str:
    """Run migrate's task in this cluster, watch it, scale and update this cluster's services; write its own log."""
    tasks = cluster_arn.replace(":cluster/", ":task/", 1) + "/*"
    services = cluster_arn.replace(":cluster/", ":service/", 1) + "/*"
    in_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
    statements = [
        {"Effect": "Allow", "Action": ["ecs:RunTask"], "Resource": [f"{task_family_arn}:*"], "Condition": in_cluster},
        {"Effect": "Allow", "Action": ["ecs:DescribeTasks"], "Resource": [tasks]},
        {"Effect": "Allow", "Action": ["ecs:ListServices"], "Resource": ["*"], "Condition": in_cluster},
        {"Effect": "Allow", "Action": ["ecs:DescribeServices", "ecs:UpdateService"], "Resource": [services]},
        {
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": sorted(set(passed_roles)),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group_arn}:*"],
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _assume_by_lambda() -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def runner(
    ctx: BuildContext, definition: aws.ecs.TaskDefinition, wiring: MigrationWiring
) -> tuple[aws.lambda_.Function, list[pulumi.Resource]]:
    """The Lambda function, its role (exactly what it calls) and its own log group."""
    logs = aws.cloudwatch.LogGroup(
        ctx.child_name("migrate-runner-logs"),
        retention_in_days=ctx.config.log_retention_days,
        tags=ctx.tags("migrate-runner-logs"),
        opts=ctx.opts(),
    )
    role = aws.iam.Role(
        ctx.child_name("migrate-runner-role"),
        assume_role_policy=_assume_by_lambda(),
        description=f"airflow-celery {ctx.name}: runs the migrate task and waits for it",
        tags=ctx.tags("migrate-runner-role"),
        opts=ctx.opts(),
    )
    grant = aws.iam.RolePolicy(
        ctx.child_name("migrate-runner-policy"),
        role=role.id,
        policy=pulumi.Output.all(
            wiring.cluster.arn, definition.arn_without_revision, logs.arn, pulumi.Output.all(*wiring.passed_roles)
        ).apply(lambda v: runner_policy(v[0], v[1], v[2], v[3])),
        opts=ctx.opts(),
    )
    function = aws.lambda_.Function(
        ctx.child_name("migrate-runner"),
        description=f"airflow-celery {ctx.name}: runs `airflow db migrate` as a one-off ECS task and waits for it",
        runtime=RUNNER_RUNTIME,
        handler=f"{RUNNER_MODULE.removesuffix('.py')}.handler",
        code=pulumi.AssetArchive({RUNNER_MODULE: pulumi.StringAsset(runner_source())}),
        role=role.arn,
        timeout=RUNNER_TIMEOUT,
        memory_size=128,
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=logs.name),
        tags=ctx.tags("migrate-runner"),
        opts=ctx.opts(depends_on=[grant]),
    )
    return function, [grant]


def migration_input(
    ctx: BuildContext, definition: aws.ecs.TaskDefinition, wiring: MigrationWiring
) -> pulumi.Output[str]:
    """The event the runner gets: what to run where, and which services to stop for a pending migration."""
    services = {
        ctx.child_name(name, "service"): pulumi.Output.all(task.arn, count).apply(
            lambda v: {"taskDefinition": v[0], "desiredCount": v[1]}
        )
        for name, (task, count) in sorted(wiring.services.items())
    }
    return pulumi.Output.all(
        cluster=wiring.cluster.arn,
        taskDefinition=definition.arn,
        subnets=pulumi.Output.all(*wiring.subnet_ids),
        securityGroups=pulumi.Output.all(wiring.security_group.id),
        logGroup=wiring.log_group.name,
        services=pulumi.Output.all(**services) if services else {},
    ).apply(lambda v: json.dumps({"container": MIGRATE.name, **v}, sort_keys=True))


def migration_step(
    ctx: BuildContext, inputs: pulumi.Output[TaskInputs], wiring: MigrationWiring
) -> aws.lambda_.Invocation:
    """Migrate's task definition, the runner, and the invocation that every service waits for."""
    definition = migrate_task_definition(ctx, inputs, wiring)
    function, _ = runner(ctx, definition, wiring)
    return aws.lambda_.Invocation(
        ctx.child_name(MIGRATE.name, "run"),
        function_name=function.name,
        input=migration_input(ctx, definition, wiring),
        # Also in the input; named here so a diff says why the step runs again.
        triggers={"migrate-task-definition": definition.arn, "image": inputs.apply(lambda plain: plain.image)},
        opts=ctx.opts(),
    )
