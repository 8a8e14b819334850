"""DAG failure notifications under mocks: with dag_failure_notifications, the dag-processor alone learns the alarms'
topic and alone may publish to it; without it, nothing changes (tests/aws/test_unchanged_stacks.py holds dev and
prod to their recorded resources and inputs)."""

from __future__ import annotations

import json

import pytest

from airflow_celery.cluster.env import SNS_ENDPOINT_VAR
from airflow_celery.cluster.failure_notifications import TOPIC_ARN_VAR
from airflow_celery.cluster.roles import DAG_PROCESSOR
from tests.aws import assertions, harness
from tests.aws.conftest import DEV_NAME

TASK = "aws:ecs/taskDefinition:TaskDefinition"
POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
NAME = "notify"


@pytest.fixture(scope="module")
def notifying():
    """dev's defaults (monitoring on) with the notifications, and without Airflow's metrics: the dag-processor
    then has no task role of its own but for this."""
    return harness.build_component(NAME, {"dag_failure_notifications": True, "airflow_metrics": False})


def _environments(mocks, variable):
    """Task family -> the variable's value in its containers (only those that carry it)."""
    found = {}
    for task in mocks.of_type(TASK):
        for container in mocks.container_definitions(task):
            for entry in container.get("environment", []):
                if entry["name"] == variable:
                    found[task.inputs["family"]] = entry["value"]
    return found


def _publishers(mocks):
    """Role policy name -> its statements, for every policy that allows an SNS action."""
    found = {}
    for policy in mocks.of_type(POLICY):
        statements = json.loads(policy.inputs["policy"])["Statement"]
        if any(str(action).startswith("sns:") for s in statements for action in s["Action"]):
            found[policy.name] = statements
    return found


def test_only_the_dag_processor_learns_the_alarms_topic(notifying):
    topic = notifying.one(TOPIC, f"{NAME}-alarms")
    assert _environments(notifying, TOPIC_ARN_VAR) == {f"{NAME}-{DAG_PROCESSOR.name}": topic.outputs["arn"]}
    assert _environments(notifying, SNS_ENDPOINT_VAR) == {}  # AWS's own SNS endpoint on AWS
    assertions.assert_task_definitions_valid_for_ecs(notifying)


def test_only_the_dag_processor_role_may_publish_and_only_to_that_topic(notifying):
    topic = notifying.one(TOPIC, f"{NAME}-alarms")
    publishers = _publishers(notifying)
    assert set(publishers) == {f"{NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures"}
    publish, _ = publishers[f"{NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures"]
    assert publish == {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic.outputs["arn"]}

    own_role = notifying.one(ROLE, f"{NAME}-{DAG_PROCESSOR.name}-task-role")
    grant = notifying.one(POLICY, f"{NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures")
    assert grant.inputs["role"] == own_role.id
    task_roles = {t.inputs["family"]: t.inputs.get("taskRoleArn") for t in notifying.of_type(TASK)}
    holders = [family for family, arn in task_roles.items() if arn == own_role.outputs["arn"]]
    assert holders == [f"{NAME}-{DAG_PROCESSOR.name}"]  # the api-server, scheduler, triggerer keep the shared role


def test_the_publisher_may_use_the_topics_key_for_exactly_what_publishing_takes(notifying):
    """A topic encrypted with a customer-managed key takes kms:GenerateDataKey* and kms:Decrypt on that key from
    whoever publishes (SNS developer guide, "Key management", sns-key-management.html); nothing else, nowhere else."""
    key = notifying.one(KEY, f"{NAME}-alarms-key")
    assert notifying.one(TOPIC, f"{NAME}-alarms").inputs["kmsMasterKeyId"] == key.outputs["arn"]
    _, encrypt = _publishers(notifying)[f"{NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures"]
    assert encrypt == {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                       "Resource": key.outputs["arn"]}  # fmt: skip
    holders = [p.name for p in notifying.of_type(POLICY) if key.outputs["arn"] in p.inputs["policy"]]
    assert holders == [f"{NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures"]


def test_off_by_default_no_variable_and_no_grant(dev):
    assert _environments(dev, TOPIC_ARN_VAR) == {}
    assert _publishers(dev) == {}
    assert not [p for p in dev.of_type(POLICY) if p.name.endswith("-dag-failures")]
    # The topic and its key exist (monitoring), but no role is granted the key.
    key = dev.one(KEY, f"{DEV_NAME}-alarms-key")
    assert not [
        p for p in dev.of_type(POLICY) if key.outputs["arn"] in p.inputs["policy"] or "kms:" in p.inputs["policy"]
    ]


def test_with_airflow_metrics_the_grant_joins_the_dag_processors_metrics_role():
    mocks = harness.build_component(DEV_NAME, {"dag_failure_notifications": True})
    role = mocks.one(ROLE, f"{DEV_NAME}-{DAG_PROCESSOR.name}-task-role")
    names = {p.name for p in mocks.of_type(POLICY) if p.inputs["role"] == role.id}
    assert f"{DEV_NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures" in names
    assert f"{DEV_NAME}-{DAG_PROCESSOR.name}-task-role-airflow-metrics" in names
    assert set(_publishers(mocks)) == {f"{DEV_NAME}-{DAG_PROCESSOR.name}-task-role-dag-failures"}
