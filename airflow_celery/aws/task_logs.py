"""Task logs in CloudWatch Logs (the default; `task_log_store`): one log group, streamed to by the workers and the
triggerer, read back by the api-server for the UI.

Airflow writes through `airflow_celery.cluster.task_logs` (a 2 s send interval instead of watchtower's 60 s, so a
SIGKILLed worker loses at most 2 s of lines). The grants follow the calls the pinned code makes: watchtower's
handler lists log groups to find the group (DescribeLogGroups, then CreateLogGroup only if it is missing, which
it never is here), creates its stream and puts events (watchtower/__init__.py); the reader gets the stream's
events (AwsLogsHook.get_log_events).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext


def log_group(ctx: BuildContext) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        ctx.child_name("task-logs"),
        retention_in_days=ctx.config.log_retention_days,
        tags=ctx.tags("task-logs"),
        opts=ctx.opts(),
    )


def remote_log_folder(group_arn: str) -> str:
    """Airflow's `cloudwatch://` remote base: the handler reads the group's name and region from the ARN."""
    return f"cloudwatch://{group_arn.removesuffix(':*')}"


def _groups_of(group_arn: str) -> str:
    """arn:aws:logs:<region>:<account>:log-group:* - DescribeLogGroups is authorized on the account's groups."""
    return group_arn.split(":log-group:", 1)[0] + ":log-group:*"


def writer_policy(group_arn: str) -> str:
    group = group_arn.removesuffix(":*")
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": [_groups_of(group)]},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{group}:log-stream:*"]},
    ]})  # fmt: skip


def reader_policy(group_arn: str) -> str:
    group = group_arn.removesuffix(":*")
    statement = {"Effect": "Allow", "Action": ["logs:GetLogEvents"], "Resource": [f"{group}:log-stream:*"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def grant(
    ctx: BuildContext,
    group: aws.cloudwatch.LogGroup,
    writers: Sequence[tuple[str, aws.iam.Role]],
    readers: Sequence[tuple[str, aws.iam.Role]],
) -> None:
    """`writers` and `readers` are (name, role) pairs; the name names the policy."""
    for kind, pairs, policy in (("write", writers, writer_policy), ("read", readers, reader_policy)):
        for name, role in pairs:
            aws.iam.RolePolicy(
                ctx.child_name(name, f"task-logs-{kind}"),
                role=role.id,
                policy=group.arn.apply(policy),
                opts=ctx.opts(),
            )


def folder(group: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
    return group.arn.apply(remote_log_folder)
