"""Airflow's metrics on ECS under mocks: the CloudWatch agent container next to each emitting role, valid by
botocore's ECS model, and the least privilege of the task roles that publish."""

from __future__ import annotations

import json

from airflow_celery.autoscaler.cloudwatch import namespace
from airflow_celery.cluster.metrics import (
    AGENT_CONFIG_VAR,
    AGENT_CONTAINER,
    AGENT_IMAGE,
    EMITTING_ROLES,
    STATSD_PORT,
    agent_config,
)
from tests.aws import assertions, harness
from tests.aws.conftest import DEV_NAME, PROD_NAME

TASK = "aws:ecs/taskDefinition:TaskDefinition"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def _agents(mocks, name):
    found = {}
    for task in mocks.of_type(TASK):
        for container in mocks.container_definitions(task):
            if container["name"] == AGENT_CONTAINER:
                found[task.name.removeprefix(f"{name}-").removesuffix("-task")] = container
    return found


def test_an_agent_runs_next_to_each_emitting_role_and_nowhere_else(prod):
    agents = _agents(prod, PROD_NAME)
    assert set(agents) == set(EMITTING_ROLES)
    for agent in agents.values():
        assert agent["image"] == AGENT_IMAGE and agent["essential"] is False
        assert agent["restartPolicy"]["enabled"] is True  # ECS restarts it in place; the role keeps running
        assert "secrets" not in agent and "portMappings" not in agent  # nothing secret, nothing reachable
        (variable,) = agent["environment"]
        assert variable["name"] == AGENT_CONFIG_VAR
        assert json.loads(variable["value"]) == agent_config(namespace(PROD_NAME), prod.region, STATSD_PORT)
        assert agent["logConfiguration"]["options"]["awslogs-stream-prefix"] == AGENT_CONTAINER


def test_task_definitions_with_the_agent_are_valid_register_requests(prod):
    assertions.assert_task_definitions_valid_for_ecs(prod)


def test_each_publisher_may_put_metric_data_into_its_namespace_only(prod):
    policies = {p.name: json.loads(p.inputs["policy"]) for p in prod.of_type(POLICY)
                if p.name.endswith("-task-role-airflow-metrics")}  # fmt: skip
    # prod autoscales: the scheduler's role publishes there already (iam.scheduler_task_role)
    assert set(policies) == {f"{PROD_NAME}-{r}-task-role-airflow-metrics" for r in EMITTING_ROLES if r != "scheduler"}
    for policy in policies.values():
        (statement,) = policy["Statement"]
        assert statement["Action"] == ["cloudwatch:PutMetricData"]
        assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace(PROD_NAME)}}
    tasks = {t.name: t.inputs.get("taskRoleArn") for t in prod.of_type(TASK)}
    shared = prod.one("aws:iam/role:Role", f"{PROD_NAME}-task-role").outputs["arn"]
    assert tasks[f"{PROD_NAME}-api-server-task"] == shared  # runs no agent: no grant
    for role_name in EMITTING_ROLES:
        assert tasks[f"{PROD_NAME}-{role_name}-task"] != shared


def test_without_airflow_metrics_no_agent_no_grant_no_statsd():
    mocks = harness.build_component(DEV_NAME, {"airflow_metrics": False})
    assert not _agents(mocks, DEV_NAME)
    assert not [p for p in mocks.of_type(POLICY) if p.name.endswith("-airflow-metrics")]
    for _, container in mocks.all_containers():
        assert "AIRFLOW__METRICS__STATSD_ON" not in {e["name"] for e in container["environment"]}
