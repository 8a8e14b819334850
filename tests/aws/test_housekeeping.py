"""The daily `airflow db clean` task under mocks: its schedule and task definition as botocore validates them,
its least secrets and IAM, and the image it runs in."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from airflow_celery.cluster.housekeeping import RETENTION_VAR, SECRETS
from tests.aws import harness
from tests.aws.conftest import PROD_ARGS, PROD_NAME
from tests.image.test_dockerfile import DOCKERFILE

SCHEDULE = "aws:scheduler/schedule:Schedule"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def _container(mocks, name):
    (container,) = mocks.container_definitions(mocks.one(TASK, f"{name}-housekeeping-task"))
    return container


def test_the_schedule_is_a_valid_create_schedule_running_the_task_in_the_private_subnets(prod):
    schedule = prod.one(SCHEDULE, f"{PROD_NAME}-housekeeping").inputs
    target, ecs = schedule["target"], schedule["target"]["ecsParameters"]
    task = prod.one(TASK, f"{PROD_NAME}-housekeeping-task")
    cluster = prod.one("aws:ecs/cluster:Cluster")
    assert (target["arn"], ecs["taskDefinitionArn"]) == (cluster.outputs["arn"], task.outputs["arn"])
    assert ecs["networkConfiguration"]["subnets"] == PROD_ARGS["private_subnet_ids"]
    scheduler_group = prod.one("aws:ec2/securityGroup:SecurityGroup", f"{PROD_NAME}-scheduler-sg")
    assert ecs["networkConfiguration"]["securityGroups"] == [scheduler_group.id]
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == ("cron(0 3 * * ? *)", "UTC")
    request = {
        "Name": "airflow-prod-housekeeping",
        "ScheduleExpression": schedule["scheduleExpression"],
        "ScheduleExpressionTimezone": schedule["scheduleExpressionTimezone"],
        "FlexibleTimeWindow": {"Mode": schedule["flexibleTimeWindow"]["mode"]},
        "Target": {
            "Arn": target["arn"],
            "RoleArn": target["roleArn"],
            "RetryPolicy": {"MaximumRetryAttempts": int(target["retryPolicy"]["maximumRetryAttempts"])},
            "EcsParameters": {
                "TaskDefinitionArn": ecs["taskDefinitionArn"],
                "LaunchType": ecs["launchType"],
                "PlatformVersion": ecs["platformVersion"],
                "TaskCount": int(ecs["taskCount"]),
                "NetworkConfiguration": {"awsvpcConfiguration": {
                    "Subnets": ecs["networkConfiguration"]["subnets"],
                    "SecurityGroups": ecs["networkConfiguration"]["securityGroups"],
                    "AssignPublicIp": "DISABLED"}},
            },
        },
    }  # fmt: skip
    model = botocore.session.get_session().get_service_model("scheduler").operation_model("CreateSchedule")
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_task_gets_only_the_database_secrets_and_no_task_role(prod):
    container = _container(prod, PROD_NAME)
    assert {s["name"] for s in container["secrets"]} == set(SECRETS)
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env[RETENTION_VAR] == "30"
    assert "taskRoleArn" not in prod.one(TASK, f"{PROD_NAME}-housekeeping-task").inputs
    execution = prod.one(TASK, f"{PROD_NAME}-housekeeping-task").inputs["executionRoleArn"]
    grants = [json.loads(p.inputs["policy"]) for p in prod.of_type(POLICY) if p.name.startswith(f"{PROD_NAME}-housek")]
    secret_reads = [s for g in grants for s in g["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    assert len({arn for s in secret_reads for arn in s["Resource"]}) == len(set(SECRETS.values()))
    assert execution == prod.one("aws:iam/role:Role", f"{PROD_NAME}-housekeeping-execution-role").outputs["arn"]


def test_the_schedule_may_run_only_this_task_family_in_this_cluster_and_pass_only_its_role(prod):
    task = prod.one(TASK, f"{PROD_NAME}-housekeeping-task")
    cluster = prod.one("aws:ecs/cluster:Cluster")
    role = prod.one("aws:iam/role:Role", f"{PROD_NAME}-housekeeping-execution-role")
    policy = json.loads(prod.one(POLICY, f"{PROD_NAME}-housekeeping-scheduler-policy").inputs["policy"])
    run, pass_role = policy["Statement"]
    assert run["Action"] == ["ecs:RunTask"]
    assert run["Resource"] == [task.outputs["arnWithoutRevision"] + ":*"]
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": cluster.outputs["arn"]}}
    assert (pass_role["Action"], pass_role["Resource"]) == (["iam:PassRole"], [role.outputs["arn"]])
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_the_task_runs_the_module_the_image_carries_through_the_images_init():
    """The entryPoint keeps the image's init (dumb-init, image/Dockerfile's ENTRYPOINT) and runs a module of
    airflow_celery/cluster/, which the Dockerfile copies into the image."""
    mocks = harness.build_component("hk", {"db_clean_retention_days": 90, "log_retention_days": 14})
    container = _container(mocks, "hk")
    dockerfile = DOCKERFILE.read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M).group(1))
    assert container["entryPoint"][:2] == entrypoint[:2] == ["/usr/bin/dumb-init", "--"]
    assert container["entryPoint"][2:] == ["python", "-m", "airflow_celery.cluster.housekeeping"]
    assert "COPY --chown=airflow:0 airflow_celery/cluster/ /opt/airflow-celery/airflow_celery/cluster/" in dockerfile
    assert {e["name"]: e["value"] for e in container["environment"]}[RETENTION_VAR] == "90"
    logs = mocks.one("aws:cloudwatch/logGroup:LogGroup", "hk-housekeeping-logs")
    assert logs.inputs["retentionInDays"] == 14
    assert container["logConfiguration"]["options"]["awslogs-group"] == logs.outputs["name"]


def test_a_hibernating_stack_cleans_an_hour_after_it_wakes():
    sleepy = harness.build_component(
        "hk", {"hibernation": {"days": "MON-FRI", "wake": 7, "sleep": 19, "timezone": "Europe/Berlin"}}
    )
    schedule = sleepy.one(SCHEDULE, "hk-housekeeping").inputs
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == (
        "cron(0 8 ? * MON-FRI *)",
        "Europe/Berlin",
    )


@pytest.mark.parametrize("days", [0, 3651])
def test_a_retention_out_of_range_is_refused_naming_the_key(days):
    from airflow_celery.aws.args import ConfigError, resolve_args

    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"db_clean_retention_days": days})
    assert caught.value.key == "db_clean_retention_days"
