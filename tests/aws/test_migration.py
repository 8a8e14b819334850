"""The migrate step: its own task, run and waited on by a Lambda invocation before any service changes.

Under the mocks: the order (every service depends on the invocation), what re-runs it (image digest, migrate's
task definition), and least privilege. The runner itself runs here against botocore's Stubber, which checks every
ECS call against botocore's ECS model, in the scenarios it must handle."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from airflow_celery.aws import migration, migration_runner
from airflow_celery.cluster.env import reads_metadata_db
from airflow_celery.cluster.roles import AIRFLOW_SERVICES, MIGRATE
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, VARIANT_ARGS

INVOCATION = "aws:lambda/invocation:Invocation"
FUNCTION = "aws:lambda/function:Function"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def _step(mocks):
    (step,) = mocks.of_type(INVOCATION)
    return step, json.loads(step.inputs["input"])


def test_every_service_waits_for_the_migrate_step(built):
    step, _ = _step(built)
    services = built.of_type(SERVICE)
    assert services
    for service in services:
        assert step.urn in service.dependencies, service.name


def test_the_step_runs_migrates_own_task_in_the_private_subnets_with_its_own_group(built):
    (component,) = built.components
    step, event = _step(built)
    migrate = built.one(TASK, f"{component.name}-migrate-task")
    assert event["taskDefinition"] == migrate.outputs["arn"] == step.inputs["triggers"]["migrate-task-definition"]
    assert event["container"] == MIGRATE.name
    groups = {g.id: g.name for g in built.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert [groups[g] for g in event["securityGroups"]] == [f"{component.name}-migrate-sg"]
    any_service = built.of_type(SERVICE)[0]
    assert event["subnets"] == any_service.inputs["networkConfiguration"]["subnets"]
    assert (
        event["logGroup"]
        == built.one("aws:cloudwatch/logGroup:LogGroup", f"{component.name}-migrate-logs").outputs["name"]
    )


def test_the_step_lists_exactly_the_services_that_read_the_metadata_database(built):
    (component,) = built.components
    _, event = _step(built)
    readers = {r.name for r in AIRFLOW_SERVICES if reads_metadata_db(r.name)}
    assert readers == {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert set(event["services"]) == {f"{component.name}-{name}-service" for name in readers}
    services = {s.name: s for s in built.of_type(SERVICE)}
    for name, target in event["services"].items():
        assert services[name].inputs["tags"]["Name"] == name  # the runner finds services by this tag
        assert target["taskDefinition"] == services[name].inputs["taskDefinition"]
        assert target["desiredCount"] == services[name].inputs["desiredCount"]


def test_a_new_image_digest_reruns_the_step():
    """The invocation's input carries migrate's task definition and the image: the provider forces a new
    invocation on any change of input (CREATE_ONLY scope), so a new digest migrates again."""
    old = harness.build_component("airflow-x", VARIANT_ARGS)
    new = harness.build_component("airflow-x", {**VARIANT_ARGS, "image": VARIANT_ARGS["image"][:-2] + "cd"})
    (old_step,), (new_step,) = old.of_type(INVOCATION), new.of_type(INVOCATION)
    assert old_step.inputs["triggers"]["image"] == VARIANT_ARGS["image"]
    assert new_step.inputs["triggers"]["image"] != old_step.inputs["triggers"]["image"]
    (migrate_container,) = new.container_definitions(new.one(TASK, "airflow-x-migrate-task"))
    assert migrate_container["image"] == new_step.inputs["triggers"]["image"]
    assert "lifecycleScope" not in new_step.inputs  # default CREATE_ONLY: no invocation on delete


def test_the_runner_is_shipped_inline_with_lambdas_longest_timeout(dev):
    function = dev.one(FUNCTION, f"{DEV_NAME}-migrate-runner")
    assert function.inputs["timeout"] == 900
    assert function.inputs["handler"] == "migration_runner.handler"
    assert function.inputs["runtime"] == "python3.12"
    assert "vpcConfig" not in function.inputs  # it only calls the ECS API
    step, _ = _step(dev)
    assert step.inputs["functionName"] == function.outputs["name"]


def test_the_runner_policy_is_exactly_what_it_calls(dev):
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", f"{DEV_NAME}-migrate-runner-policy").inputs["policy"])
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert actions == sorted(
        [
            "ecs:RunTask",
            "ecs:DescribeTasks",
            "ecs:ListServices",
            "ecs:DescribeServices",
            "ecs:UpdateService",
            "iam:PassRole",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
    assert all(resource != "*" for s in policy["Statement"] if s["Action"] != ["ecs:ListServices"]
               for resource in s["Resource"])  # fmt: skip
    run = next(s for s in policy["Statement"] if s["Action"] == ["ecs:RunTask"])
    assert run["Resource"][0].endswith(f"{DEV_NAME}-migrate-task:*")


def test_the_migrate_execution_role_reads_only_migrates_secrets(dev):
    migrate = dev.one(TASK, f"{DEV_NAME}-migrate-task")
    (container,) = dev.container_definitions(migrate)
    given = {s["valueFrom"] for s in container["secrets"]}
    role = next(r for r in dev.of_type("aws:iam/role:Role") if r.outputs["arn"] == migrate.inputs["executionRoleArn"])
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", f"{role.name}-secrets").inputs["policy"])
    assert set(policy["Statement"][0]["Resource"]) == given


def test_the_runner_source_is_standalone():
    """Lambda's runtime has boto3 but not this package: the shipped file imports only the standard library and boto3."""
    source = migration.runner_source()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "json", "time", "boto3"}


# --- the runner against botocore's Stubber (request shapes checked against the ECS service model) ---------------

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/airflow-dev-cluster"
MIGRATE_TASK = "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-dev-migrate:2"
NEW_SCHEDULER = "arn:aws:ecs:us-east-1:123456789012:task-definition/airflow-dev-scheduler:2"
SCHEDULER_SERVICE = "arn:aws:ecs:us-east-1:123456789012:service/airflow-dev-cluster/airflow-dev-scheduler-service-1"
EVENT = {
    "cluster": CLUSTER,
    "taskDefinition": MIGRATE_TASK,
    "container": "migrate",
    "subnets": ["subnet-1"],
    "securityGroups": ["sg-1"],
    "logGroup": "airflow-dev-migrate-logs",
    "services": {"airflow-dev-scheduler-service": {"taskDefinition": NEW_SCHEDULER, "desiredCount": 1}},
}


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _task(arn: str, status: str, exit_code: int | None = None, reason: str = "", stop_code: str = "") -> dict:
    container = {"name": "migrate", **({"exitCode": exit_code} if exit_code is not None else {})}
    task = {"taskArn": arn, "lastStatus": status, "containers": [container], "stoppedReason": reason}
    return task | ({"stopCode": stop_code} if stop_code else {})


def _service(desired: int, running: int = 0) -> dict:
    return {
        "serviceArn": SCHEDULER_SERVICE,
        "serviceName": "airflow-dev-scheduler-service-1",
        "status": "ACTIVE",
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": 0,
        "tags": [{"key": "Name", "value": "airflow-dev-scheduler-service"}],
    }


@pytest.fixture
def ecs(monkeypatch):
    client = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    monkeypatch.setattr(migration_runner.boto3, "client", lambda name: client)
    monkeypatch.setattr(migration_runner, "POLL_SECONDS", 0)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def _list(stubber, services: list[dict]) -> None:
    stubber.add_response("list_services", {"serviceArns": [s["serviceArn"] for s in services]}, {"cluster": CLUSTER})
    if services:
        stubber.add_response(
            "describe_services",
            {"services": services},
            {"cluster": CLUSTER, "services": [s["serviceArn"] for s in services], "include": ["TAGS"]},
        )


def _run(stubber, task_arn: str, stop_flag: str, exit_code: int | None, reason: str = "", stop_code: str = "") -> None:
    stubber.add_response(
        "run_task",
        {"tasks": [{"taskArn": task_arn}], "failures": []},
        {
            "cluster": CLUSTER,
            "taskDefinition": MIGRATE_TASK,
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": "airflow-celery-migrate",
            "networkConfiguration": ANY,
            "overrides": {"containerOverrides": [{"name": "migrate", "environment": [
                {"name": "AIRFLOW_CELERY_STOP_FOR_MIGRATIONS", "value": stop_flag}]}]},
        },
    )  # fmt: skip
    stubber.add_response(
        "describe_tasks", {"tasks": [_task(task_arn, "RUNNING")]}, {"cluster": CLUSTER, "tasks": [task_arn]}
    )
    stopped = _task(task_arn, "STOPPED", exit_code, reason, stop_code)
    stubber.add_response("describe_tasks", {"tasks": [stopped]}, {"cluster": CLUSTER, "tasks": [task_arn]})


def test_first_deploy_migrates_once_and_touches_no_service(ecs):
    _list(ecs, [])
    _run(ecs, "task/1", "false", 0)
    result = migration_runner.handler(dict(EVENT), _Context())
    assert result == {"task": "task/1", "stoppedServices": [], "restoredServices": []}


def test_no_pending_migration_leaves_the_services_running(ecs):
    _list(ecs, [_service(1, 1)])
    _run(ecs, "task/1", "true", 0)
    ecs.add_response(
        "describe_services", {"services": [_service(1, 1)]}, {"cluster": CLUSTER, "services": [SCHEDULER_SERVICE]}
    )
    result = migration_runner.handler(dict(EVENT), _Context())
    assert result["stoppedServices"] == [] and result["restoredServices"] == []


def test_pending_migrations_stop_the_readers_migrate_then_start_them_on_the_new_task_definition(ecs):
    _list(ecs, [_service(1, 1)])
    _run(ecs, "task/1", "true", migration_runner.EX_TEMPFAIL)
    ecs.add_response("update_service", {}, {"cluster": CLUSTER, "service": SCHEDULER_SERVICE, "desiredCount": 0})
    ecs.add_response(
        "describe_services", {"services": [_service(0, 1)]}, {"cluster": CLUSTER, "services": [SCHEDULER_SERVICE]}
    )
    ecs.add_response(
        "describe_services", {"services": [_service(0, 0)]}, {"cluster": CLUSTER, "services": [SCHEDULER_SERVICE]}
    )
    _run(ecs, "task/2", "false", 0)
    ecs.add_response(
        "describe_services", {"services": [_service(0, 0)]}, {"cluster": CLUSTER, "services": [SCHEDULER_SERVICE]}
    )
    ecs.add_response(
        "update_service",
        {},
        {"cluster": CLUSTER, "service": SCHEDULER_SERVICE, "taskDefinition": NEW_SCHEDULER, "desiredCount": 1},
    )
    result = migration_runner.handler(dict(EVENT), _Context())
    assert result == {
        "task": "task/2",
        "stoppedServices": ["airflow-dev-scheduler-service"],
        "restoredServices": ["airflow-dev-scheduler-service"],
    }


def test_a_failed_migration_fails_the_step_with_its_exit_code_reason_and_log_group(ecs):
    _list(ecs, [])
    _run(ecs, "task/1", "false", 1, reason="Essential container in task exited")
    with pytest.raises(migration_runner.MigrationFailed) as failed:
        migration_runner.handler(dict(EVENT), _Context())
    message = str(failed.value)
    assert "exit code 1" in message and "Essential container in task exited" in message
    assert "airflow-dev-migrate-logs" in message


def test_a_task_ecs_cannot_start_fails_the_step(ecs):
    _list(ecs, [])
    ecs.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:ENI"}]}, None)
    with pytest.raises(migration_runner.MigrationFailed, match="RESOURCE:ENI"):
        migration_runner.handler(dict(EVENT), _Context())


def test_a_migration_that_outlasts_the_lambda_fails_the_step_and_says_it_keeps_running(ecs, monkeypatch):
    class Short(_Context):
        def get_remaining_time_in_millis(self) -> int:
            return (migration_runner.REPORT_MARGIN_SECONDS - 1) * 1000

    _list(ecs, [])
    ecs.add_response("run_task", {"tasks": [{"taskArn": "task/1"}], "failures": []}, None)
    ecs.add_response("describe_tasks", {"tasks": [_task("task/1", "RUNNING")]}, None)
    with pytest.raises(migration_runner.MigrationFailed, match="still RUNNING"):
        migration_runner.handler(dict(EVENT), Short())


def test_a_service_left_at_zero_by_an_earlier_failed_step_is_brought_back(ecs):
    _list(ecs, [_service(0, 0)])
    _run(ecs, "task/1", "true", 0)
    ecs.add_response(
        "describe_services", {"services": [_service(0, 0)]}, {"cluster": CLUSTER, "services": [SCHEDULER_SERVICE]}
    )
    ecs.add_response(
        "update_service",
        {},
        {"cluster": CLUSTER, "service": SCHEDULER_SERVICE, "taskDefinition": NEW_SCHEDULER, "desiredCount": 1},
    )
    assert migration_runner.handler(dict(EVENT), _Context())["restoredServices"] == ["airflow-dev-scheduler-service"]


def test_a_task_that_failed_to_start_is_tried_again(ecs, monkeypatch):
    """On a first deploy the NAT route or a just-granted execution role may lag: ECS stops the task with
    TaskFailedToStart (CannotPullContainerError, ResourceInitializationError) before migrate ever ran."""
    monkeypatch.setattr(migration_runner, "START_RETRY_SECONDS", 0)
    _list(ecs, [])
    _run(ecs, "task/1", "false", None, "CannotPullContainerError: i/o timeout", "TaskFailedToStart")
    _run(ecs, "task/2", "false", 0)
    assert migration_runner.handler(dict(EVENT), _Context())["task"] == "task/2"


def test_a_task_that_never_starts_fails_the_step_after_its_attempts(ecs, monkeypatch):
    monkeypatch.setattr(migration_runner, "START_RETRY_SECONDS", 0)
    _list(ecs, [])
    for attempt in range(migration_runner.START_ATTEMPTS):
        _run(ecs, f"task/{attempt}", "false", None, "ResourceInitializationError: secrets", "TaskFailedToStart")
    with pytest.raises(migration_runner.MigrationFailed, match="no exit code, TaskFailedToStart"):
        migration_runner.handler(dict(EVENT), _Context())


def test_a_task_ecs_does_not_describe_yet_is_waited_for(ecs):
    """DescribeTasks right after RunTask may answer no task and a MISSING failure (ECS is eventually consistent)."""
    _list(ecs, [])
    ecs.add_response(
        "run_task",
        {"tasks": [{"taskArn": "task/1"}], "failures": []},
        {"cluster": CLUSTER, "taskDefinition": MIGRATE_TASK, "launchType": "FARGATE", "count": 1,
         "startedBy": "airflow-celery-migrate", "networkConfiguration": ANY, "overrides": ANY},
    )  # fmt: skip
    missing = {"tasks": [], "failures": [{"arn": "task/1", "reason": "MISSING"}]}
    ecs.add_response("describe_tasks", missing, {"cluster": CLUSTER, "tasks": ["task/1"]})
    stopped = {"tasks": [_task("task/1", "STOPPED", 0)]}
    ecs.add_response("describe_tasks", stopped, {"cluster": CLUSTER, "tasks": ["task/1"]})
    assert migration_runner.handler(dict(EVENT), _Context())["task"] == "task/1"


def test_calls_refused_while_iam_propagates_are_tried_again(ecs, monkeypatch):
    monkeypatch.setattr(migration_runner.time, "sleep", lambda seconds: None)
    ecs.add_client_error("list_services", service_error_code="AccessDeniedException", http_status_code=400)
    _list(ecs, [])
    _run(ecs, "task/1", "false", 0)
    assert migration_runner.handler(dict(EVENT), _Context())["task"] == "task/1"


def test_a_refusal_that_outlasts_iam_propagation_fails_the_step(ecs, monkeypatch):
    clock = iter(range(0, 10_000, 30))
    monkeypatch.setattr(migration_runner.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(migration_runner.time, "sleep", lambda seconds: None)
    # the clock moves 30 s per reading: refused at 60 s (tried again), then at 90 s, past the 60 s allowed
    for _ in range(2):
        ecs.add_client_error("list_services", service_error_code="AccessDeniedException", http_status_code=400)
    with pytest.raises(Exception, match="AccessDeniedException"):
        migration_runner.handler(dict(EVENT), _Context())
