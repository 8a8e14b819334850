"""Task definitions: valid for the ECS API and Fargate, built from the description and the env contract."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from airflow_celery.aws.task_definition import TaskInputs, container_definitions_json, health_check, task_containers
from airflow_celery.cluster.env import role_environment
from airflow_celery.cluster.fargate import is_fargate_size
from airflow_celery.cluster.metrics import AGENT_CONTAINER
from airflow_celery.cluster.roles import (
    AIRFLOW_SERVICES,
    API_SERVER,
    DAG_PROCESSOR,
    MIGRATE,
    REDIS,
    SCHEDULER,
    WATCHDOG,
    WORKER,
    CommandCheck,
    HttpCheck,
)
from airflow_celery.cluster.secrets import SecretName
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME
from tests.cluster_settings import settings_with

TASK = "aws:ecs/taskDefinition:TaskDefinition"
REGISTER_TASK_DEFINITION = (
    botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape
)


def _task(mocks, cluster, role_name):
    return mocks.one(TASK, f"{cluster}-{role_name}-task")


def _containers(mocks, cluster, role_name):
    return {c["name"]: c for c in mocks.container_definitions(_task(mocks, cluster, role_name))}


def _api_request(task) -> dict:
    """The RegisterTaskDefinition request the provider would send (containerDefinitions already uses API names)."""
    inputs = task.inputs
    optional = {key: inputs[key] for key in ("taskRoleArn", "volumes") if key in inputs}
    return {
        "family": inputs["family"],
        "containerDefinitions": json.loads(inputs["containerDefinitions"]),
        "cpu": inputs["cpu"],
        "memory": inputs["memory"],
        "networkMode": inputs["networkMode"],
        "requiresCompatibilities": inputs["requiresCompatibilities"],
        "executionRoleArn": inputs["executionRoleArn"],
        "runtimePlatform": inputs["runtimePlatform"],
        **optional,
    }


def test_every_task_definition_is_a_valid_register_request(built):
    tasks = built.of_type(TASK)
    assert tasks
    for task in tasks:
        report = ParamValidator().validate(_api_request(task), REGISTER_TASK_DEFINITION)
        assert not report.has_errors(), f"{task.name}: {report.generate_report()}"


def test_the_validator_catches_a_bad_container_definition(dev):
    request = _api_request(_task(dev, DEV_NAME, "worker"))
    request["containerDefinitions"][0]["stopTimeout"] = "120"
    request["containerDefinitions"][0]["environment"] = {"A": "b"}
    assert ParamValidator().validate(request, REGISTER_TASK_DEFINITION).has_errors()


def test_every_task_is_a_fargate_size(built):
    for task in built.of_type(TASK):
        inputs = task.inputs
        assert is_fargate_size(int(inputs["cpu"]), int(inputs["memory"])), task.name
        assert inputs["requiresCompatibilities"] == ["FARGATE"]
        assert inputs["networkMode"] == "awsvpc"


def test_sizes_come_from_config_or_the_description(dev, prod):
    for r in AIRFLOW_SERVICES:
        dev_task = _task(dev, DEV_NAME, r.name).inputs
        assert (int(dev_task["cpu"]), int(dev_task["memory"])) == (r.size.cpu, r.size.memory)
    for role_name, size in PROD_ARGS["role_sizes"].items():
        prod_task = _task(prod, PROD_NAME, role_name).inputs
        assert (int(prod_task["cpu"]), int(prod_task["memory"])) == (size["cpu"], size["memory"])


def test_migrate_is_its_own_one_container_task_and_no_service_task_runs_it(built):
    (component,) = built.components
    migrate = _task(built, component.name, MIGRATE.name)
    (container,) = built.container_definitions(migrate)
    assert container["name"] == MIGRATE.name and container["essential"] is True
    assert container["command"] == [MIGRATE.name]
    assert "healthCheck" not in container
    assert "AIRFLOW_CELERY_ADMIN_PASSWORD" in {s["name"] for s in container["secrets"]}
    assert "taskRoleArn" not in migrate.inputs  # it calls no AWS API
    scheduler = _containers(built, component.name, SCHEDULER.name)
    assert MIGRATE.name not in scheduler and "dependsOn" not in scheduler[SCHEDULER.name]
    service_tasks = {s.inputs["taskDefinition"] for s in built.of_type("aws:ecs/service:Service")}
    assert migrate.outputs["arn"] not in service_tasks


def test_only_the_scheduler_task_has_more_than_one_container(built):
    for task in built.of_type(TASK):
        containers = built.container_definitions(task)
        # The scheduler's task: the watchdog, and the autoscaler when workers autoscale (min < max); migrate has
        # a task of its own (aws/migration.py).
        expected = 3 if built.of_type("aws:appautoscaling/target:Target") else 2
        names = [c["name"] for c in containers if c["name"] != AGENT_CONTAINER]  # test_airflow_metrics.py
        assert len(names) == (expected if task.name.endswith("-scheduler-task") else 1)


def test_worker_gets_120_seconds_to_finish_tasks(built):
    (component,) = built.components
    worker = _containers(built, component.name, WORKER.name)[WORKER.name]
    assert worker["stopTimeout"] == WORKER.stop_timeout == 120
    others = [c for _, c in built.all_containers() if c["name"] != WORKER.name]
    assert all("stopTimeout" not in c for c in others)


def test_commands_use_the_entrypoint_for_our_image_and_the_role_command_for_redis(dev):
    for r in AIRFLOW_SERVICES:
        assert _containers(dev, DEV_NAME, r.name)[r.name]["command"] == [r.name]
    redis = _containers(dev, DEV_NAME, REDIS.name)[REDIS.name]
    assert redis["command"] == list(REDIS.command)
    assert redis["image"] == REDIS.image


def test_health_checks_come_from_the_description(dev):
    api = _containers(dev, DEV_NAME, API_SERVER.name)[API_SERVER.name]["healthCheck"]
    assert api["command"] == [
        "CMD-SHELL",
        "curl --fail --silent --show-error --output /dev/null http://localhost:8080/api/v2/version && "
        "curl --fail --silent --show-error --output /dev/null http://localhost:8080/execution/health",
    ]
    check = API_SERVER.health
    assert (api["interval"], api["timeout"], api["retries"], api["startPeriod"]) == (
        check.interval,
        check.timeout,
        check.retries,
        check.start_period,
    )
    dag_processor = _containers(dev, DEV_NAME, DAG_PROCESSOR.name)[DAG_PROCESSOR.name]["healthCheck"]
    assert dag_processor["command"] == ["CMD-SHELL", DAG_PROCESSOR.health.shell]


@pytest.mark.parametrize("r", [r for r in (*AIRFLOW_SERVICES, REDIS) if r.health], ids=lambda r: r.name)
def test_health_check_shape_per_kind(r):
    found = health_check(r, settings_with(execution_api_url="http://x/execution/"))
    if isinstance(r.health, HttpCheck):
        port = r.port(r.health.port).number
        assert f"http://localhost:{port}{r.health.path}" in found["command"][1]
    else:
        assert isinstance(r.health, CommandCheck)
        assert found["command"] == ["CMD-SHELL", r.health.shell]


def test_environment_follows_the_cluster(dev, prod):
    alb = dev.one("aws:lb/loadBalancer:LoadBalancer").outputs["dnsName"]
    group = dev.one("aws:cloudwatch/logGroup:LogGroup", f"{DEV_NAME}-task-logs").outputs["arn"]
    env = {e["name"]: e["value"] for e in _containers(dev, DEV_NAME, WORKER.name)[WORKER.name]["environment"]}
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        == f"http://api-server.{DEV_NAME}.airflow.internal:8080/execution/"
    )
    assert env["AIRFLOW__API__BASE_URL"] == f"http://{alb}"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == f"cloudwatch://{group}"
    assert env["AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS"] == "airflow_celery.cluster.task_logs.LOGGING_CONFIG"
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "16"
    assert env["AIRFLOW_CELERY_WAIT_FOR_MIGRATIONS"] == "True"
    prod_env = {e["name"]: e["value"] for e in _containers(prod, PROD_NAME, WORKER.name)[WORKER.name]["environment"]}
    assert prod_env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == str(PROD_ARGS["worker_concurrency"])
    assert prod_env["AIRFLOW__API__BASE_URL"].startswith("https://")


def _api_server_env(mocks, cluster) -> dict[str, str]:
    container = _containers(mocks, cluster, API_SERVER.name)[API_SERVER.name]
    return {e["name"]: e["value"] for e in container["environment"]}


def test_api_server_trusts_forwarded_headers_from_the_vpc_only(dev, prod):
    """TLS ends at the load balancer: uvicorn must take the scheme from its X-Forwarded-Proto (for Secure
    cookies) and trust that header only from the VPC's ranges, where the load balancer's nodes live."""
    for mocks, cluster in ((dev, DEV_NAME), (prod, PROD_NAME)):
        command = _containers(mocks, cluster, API_SERVER.name)[API_SERVER.name]["command"]
        assert command[-1] == API_SERVER.name  # the entrypoint runs the description's command ...
        assert "--proxy-headers" in API_SERVER.command  # ... which turns uvicorn's proxy headers on
    dev_env, prod_env = _api_server_env(dev, DEV_NAME), _api_server_env(prod, PROD_NAME)
    assert dev_env["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"  # the VPC this program creates
    assert prod_env["FORWARDED_ALLOW_IPS"] == ",".join(sorted(harness.GIVEN_VPC_CIDRS))  # the given VPC's blocks
    # The session cookie is Secure only where people use HTTPS (prod has a certificate, dev serves plain HTTP).
    assert prod_env["AIRFLOW__FAB__COOKIE_SECURE"] == "True"
    assert "AIRFLOW__FAB__COOKIE_SECURE" not in dev_env
    assert "AIRFLOW__FAB__ENABLE_PROXY_FIX" not in prod_env


def test_logs_go_to_the_role_log_group(built):
    groups = {g.name: g.outputs["name"] for g in built.of_type("aws:cloudwatch/logGroup:LogGroup")}
    (component,) = built.components
    for task, container in built.all_containers():
        options = container["logConfiguration"]["options"]
        assert options["awslogs-stream-prefix"] == container["name"]
        if container["name"] == AGENT_CONTAINER:  # the metrics agent logs with the role it runs next to
            role_name = task.name.removeprefix(f"{component.name}-").removesuffix("-task")
            assert options["awslogs-group"] == groups[f"{component.name}-{role_name}-logs"]
            continue
        assert options["awslogs-group"] == groups[f"{component.name}-{container['name']}-logs"]


def _plain_inputs() -> TaskInputs:
    settings = settings_with(execution_api_url="http://api-server.x.airflow.internal:8080/execution/")
    return TaskInputs(
        image="repo@sha256:" + "0" * 64,
        settings=settings,
        secret_arns={name: f"arn:aws:secretsmanager:::secret/{name}" for name in SecretName},
        log_groups={r.name: f"/logs/{r.name}" for r in (*AIRFLOW_SERVICES, MIGRATE, REDIS, WATCHDOG)},
        region="eu-west-1",
    )


@pytest.mark.parametrize("r", [*AIRFLOW_SERVICES, REDIS], ids=lambda r: r.name)
def test_pure_builder_takes_environment_only_from_the_env_contract(r):
    inputs = _plain_inputs()
    containers = json.loads(container_definitions_json(r, inputs))
    assert containers == task_containers(r, inputs)
    for container in containers:
        expected = role_environment(container["name"], inputs.settings)
        assert {e["name"]: e["value"] for e in container["environment"]} == expected.plain
        assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
            var: inputs.secret_arns[name] for var, name in expected.secrets.items()
        }
