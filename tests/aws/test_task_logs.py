"""Task logs in CloudWatch Logs under mocks: the group, the remote folder the handler parses, least IAM."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tests.aws import harness
from tests.aws.conftest import DEV_NAME

POLICY = "aws:iam/rolePolicy:RolePolicy"
GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _statements(mocks, name):
    return json.loads(mocks.one(POLICY, name).inputs["policy"])["Statement"]


def test_the_remote_folder_names_the_group_and_region_the_handler_reads(dev):
    """CloudWatchRemoteLogIO takes netloc + path of the folder as the group's ARN, its 7th field as the group
    and its 4th as the region (amazon provider, log/cloudwatch_task_handler.py)."""
    group = dev.one(GROUP, f"{DEV_NAME}-task-logs")
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-worker-task")
    env = {e["name"]: e["value"] for e in dev.container_definitions(task)[0]["environment"]}
    parts = urlsplit(env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"])
    arn = parts.netloc + parts.path
    assert parts.scheme == "cloudwatch" and arn == group.outputs["arn"]
    assert (arn.split(":")[6], arn.split(":")[3]) == (group.outputs["name"], dev.region)
    assert group.inputs["retentionInDays"] == 30


def test_workers_write_and_only_the_shared_role_reads_one_groups_streams(dev):
    arn = dev.one(GROUP, f"{DEV_NAME}-task-logs").outputs["arn"]
    write = [
        {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"],
         "Resource": [arn.split(":log-group:")[0] + ":log-group:*"]},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{arn}:log-stream:*"]},
    ]  # fmt: skip
    assert _statements(dev, f"{DEV_NAME}-worker-task-logs-write") == write
    assert _statements(dev, f"{DEV_NAME}-shared-task-logs-write") == write
    assert _statements(dev, f"{DEV_NAME}-shared-task-logs-read") == [
        {"Effect": "Allow", "Action": ["logs:GetLogEvents"], "Resource": [f"{arn}:log-stream:*"]}
    ]
    assert not [p for p in dev.of_type(POLICY) if p.name == f"{DEV_NAME}-worker-task-logs-read"]


def test_s3_stays_an_option():
    mocks = harness.build_component("s3logs", {"task_log_store": "s3"})
    bucket = mocks.one("aws:s3/bucket:Bucket").outputs["bucket"]
    task = mocks.one("aws:ecs/taskDefinition:TaskDefinition", "s3logs-worker-task")
    env = {e["name"]: e["value"] for e in mocks.container_definitions(task)[0]["environment"]}
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == f"s3://{bucket}/logs"
    assert "AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS" not in env
    assert not [g for g in mocks.of_type(GROUP) if g.name == "s3logs-task-logs"]
