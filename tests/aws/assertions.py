"""Assertions on a cluster recorded by the mocks, shared by the per-stack and the generic component tests.

Each expectation is computed from the cluster description (`airflow_celery.cluster`) or from AWS's own API
model (botocore), never from the renderer's code, so a renderer bug cannot make its own test pass.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from airflow_celery.aws import offline
from airflow_celery.cluster import EDGES, INTERNET, ROLES_BY_NAME, Kind, is_fargate_size, role
from airflow_celery.cluster.edges import BROKER_STORAGE, LOAD_BALANCER
from airflow_celery.cluster.env import SHARED_SECRETS, secrets_of
from airflow_celery.cluster.roles import FLOWER
from tests.aws import harness
from tests.aws.harness import Recorded, RecordingMocks

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RDS_INSTANCE = "aws:rds/instance:Instance"

# RegisterTaskDefinition's request members that a recorded TaskDefinition's inputs carry under the same name.
_TASK_DEFINITION_MEMBERS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "runtimePlatform",
    "volumes",
    "ephemeralStorage",
    "pidMode",
    "ipcMode",
)


def remember_mocks(monkeypatch: Any) -> list[RecordingMocks]:
    """Make the harness keep every RecordingMocks it creates, so a test can read them after a build raised."""
    created: list[RecordingMocks] = []

    class RememberedMocks(RecordingMocks):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(offline.runner, "RecordingMocks", RememberedMocks)
    return created


def component_name(mocks: RecordingMocks) -> str:
    (component,) = mocks.components
    return component.name


def security_group_node(mocks: RecordingMocks, group: Recorded) -> str:
    """The cluster node a security group belongs to: its name is `<component>-<node>-sg`."""
    return group.name.removeprefix(f"{component_name(mocks)}-").removesuffix("-sg")


def security_group_nodes_by_id(mocks: RecordingMocks) -> dict[str, str]:
    """Security group id (as the mocks assign it) -> node."""
    ids = {}
    for group in mocks.of_type(SECURITY_GROUP):
        group_id = harness.security_group_outputs(mocks, group.name, group.inputs)["__id"]
        ids[group_id] = security_group_node(mocks, group)
    return ids


def group_of(node: str) -> str:
    """The node whose security group `node` sits in: a job runs inside its host role's task."""
    if node not in ROLES_BY_NAME:
        return node  # the internet or the load balancer
    return role(node).runs_with or node


def expected_ingress(
    allowed_cidrs: Iterable[str], flower_on_load_balancer: bool, fargate_redis: bool = True
) -> set[tuple[str, str, int]]:
    """(origin, target group, port) for every edge; the internet is each allowed CIDR. The load balancer reaches
    Flower only when it serves it; the broker's storage (EFS) exists only when Redis runs on Fargate."""
    expected = set()
    for edge in EDGES:
        if (edge.source, edge.target) == (LOAD_BALANCER, FLOWER.name) and not flower_on_load_balancer:
            continue
        if edge.target == BROKER_STORAGE and not fargate_redis:
            continue
        origins = list(allowed_cidrs) if edge.source == INTERNET else [group_of(edge.source)]
        for origin in origins:
            expected.add((origin, group_of(edge.target), edge.port_number))
    return expected


def recorded_ingress(mocks: RecordingMocks) -> set[tuple[str, str, int]]:
    nodes = security_group_nodes_by_id(mocks)
    found = set()
    for rule in mocks.of_type(INGRESS_RULE):
        assert rule.inputs["fromPort"] == rule.inputs["toPort"], f"{rule.name} opens a port range"
        assert rule.inputs["ipProtocol"] == "tcp", f"{rule.name} is not TCP"
        source = rule.inputs.get("referencedSecurityGroupId")
        origin = nodes[source] if source else rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6")
        found.add((origin, nodes[rule.inputs["securityGroupId"]], int(rule.inputs["fromPort"])))
    return found


def assert_ingress_is_the_edges(
    mocks: RecordingMocks, allowed_cidrs: Iterable[str], flower_on_load_balancer: bool = False
) -> None:
    """Every ingress rule comes from an edge, and every edge has its rule: nothing more, nothing less."""
    fargate_redis = bool(mocks.of_type("aws:efs/fileSystem:FileSystem"))
    found, expected = recorded_ingress(mocks), expected_ingress(allowed_cidrs, flower_on_load_balancer, fargate_redis)
    assert found == expected, f"extra: {sorted(found - expected)}; missing: {sorted(expected - found)}"


def assert_no_secret_in_plain_sight(mocks: RecordingMocks) -> None:
    """No generated secret value in any container environment, command or stack output; secrets only by ARN."""
    secrets = mocks.all_secret_values()
    assert secrets, "the mocks generated no secret: nothing was checked"
    for task, container in mocks.all_containers():
        plain = json.dumps({k: v for k, v in container.items() if k != "secrets"})
        leaked = [secret for secret in secrets if secret in plain]
        assert not leaked, f"{task.name}/{container['name']} shows a secret value outside `secrets`"
        plain_names = {entry["name"] for entry in container.get("environment", [])}
        secret_names = {entry["name"] for entry in container.get("secrets", [])}
        assert not plain_names & secret_names, f"{container['name']}: {plain_names & secret_names} set in plain too"
        for entry in container.get("secrets", []):
            assert entry["valueFrom"].startswith("arn:aws:secretsmanager:"), entry
    outputs = json.dumps(mocks.stack_outputs, default=str)
    assert not [secret for secret in secrets if secret in outputs], "a stack output shows a secret value"


@functools.cache
def _register_task_definition_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def _whole_numbers(value: Any) -> Any:
    """The mocks turn every number into a float; the API's integers are whole numbers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def register_task_definition_request(mocks: RecordingMocks, task: Recorded) -> dict[str, Any]:
    request = {k: _whole_numbers(task.inputs[k]) for k in _TASK_DEFINITION_MEMBERS if k in task.inputs}
    request["containerDefinitions"] = mocks.container_definitions(task)
    return request


def assert_task_definitions_valid_for_ecs(mocks: RecordingMocks) -> None:
    """Each recorded task definition is a valid RegisterTaskDefinition request per botocore's ECS model."""
    from botocore.validate import ParamValidator

    tasks = mocks.of_type(TASK_DEFINITION)
    assert tasks, "no task definition was recorded"
    for task in tasks:
        report = ParamValidator().validate(
            register_task_definition_request(mocks, task), _register_task_definition_shape()
        )
        assert not report.has_errors(), f"{task.name}: {report.generate_report()}"


def task_size(task: Recorded) -> tuple[int, int]:
    return int(task.inputs["cpu"]), int(task.inputs["memory"])


def assert_fargate_sizes(mocks: RecordingMocks) -> None:
    for task in mocks.of_type(TASK_DEFINITION):
        assert task.inputs["requiresCompatibilities"] == ["FARGATE"], task.name
        assert is_fargate_size(*task_size(task)), f"{task.name}: {task_size(task)} is not a Fargate size"


def airflow_containers(mocks: RecordingMocks) -> list[dict[str, Any]]:
    """Every container that runs an Airflow role (services and the migrate job); the housekeeping task's container
    is not a role (tests/aws/test_housekeeping.py)."""
    return [
        container
        for _, container in mocks.all_containers()
        if container["name"] in ROLES_BY_NAME and role(container["name"]).kind in (Kind.AIRFLOW, Kind.JOB)
    ]


def assert_shared_secrets_identical(mocks: RecordingMocks) -> None:
    """Fernet key, JWT secret and API secret key: one Secrets Manager ARN each, in exactly the containers whose
    role reads it (cluster/env.py ROLE_SECRETS)."""
    containers = airflow_containers(mocks)
    assert containers, "no Airflow container was recorded"
    for variable in SHARED_SECRETS:
        arns = set()
        for container in containers:
            found = [e["valueFrom"] for e in container.get("secrets", []) if e["name"] == variable]
            assert len(found) == (variable in secrets_of(container["name"])), f"{container['name']}: {variable}"
            arns.update(found)
        assert len(arns) == 1, f"{variable} comes from different secrets: {arns}"


def assert_database_encrypted_and_private(mocks: RecordingMocks) -> Recorded:
    database = mocks.one(RDS_INSTANCE)
    assert database.inputs["storageEncrypted"] is True
    assert database.inputs["publiclyAccessible"] is False
    return database


def assert_core(mocks: RecordingMocks, allowed_cidrs: Iterable[str], flower_on_load_balancer: bool = False) -> None:
    """The checks every deployable cluster must pass, whatever its config. `allowed_cidrs`: who reaches the load
    balancer (the created VPC's range when the stack names nobody)."""
    assert_ingress_is_the_edges(mocks, allowed_cidrs, flower_on_load_balancer)
    assert_no_secret_in_plain_sight(mocks)
    assert_task_definitions_valid_for_ecs(mocks)
    assert_fargate_sizes(mocks)
    assert_shared_secrets_identical(mocks)
    assert_database_encrypted_and_private(mocks)


def services_by_role(mocks: RecordingMocks) -> dict[str, Recorded]:
    """ECS service per role: the service's name is `<component>-<role>-service`."""
    prefix = f"{component_name(mocks)}-"
    return {s.name.removeprefix(prefix).removesuffix("-service"): s for s in mocks.of_type(SERVICE)}


ONE_OFF_TASKS = ("housekeeping", "migrate")
"""Task definitions of no service: housekeeping, started on a schedule (aws/housekeeping.py), and migrate, run by
the migrate step of every `pulumi up` (aws/migration.py)."""


def role_task_definitions(mocks: RecordingMocks) -> list[Recorded]:
    """The task definitions of the roles' services, without the one-off tasks."""
    one_off = {f"{component_name(mocks)}-{name}-task" for name in ONE_OFF_TASKS}
    return [task for task in mocks.of_type(TASK_DEFINITION) if task.name not in one_off]


def task_definitions_by_role(mocks: RecordingMocks) -> dict[str, Recorded]:
    """Task definition per role: the role of its first (essential) container."""
    return {mocks.container_definitions(task)[0]["name"]: task for task in role_task_definitions(mocks)}
