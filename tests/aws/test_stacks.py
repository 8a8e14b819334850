"""The real stacks: run __main__.py under mocks with Pulumi.yaml + Pulumi.<stack>.yaml, as `pulumi up` would."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_celery.aws.args import ConfigError
from airflow_celery.aws.config import PROJECT
from airflow_celery.cluster import ROLES, Kind, role
from airflow_celery.cluster.metrics import AGENT_CONTAINER
from tests.aws import assertions, harness, pulumi_cli
from tests.aws.harness import RecordingMocks
from tests.aws.pulumi_cli import read_back

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "__main__.py"
STACKS = ("dev", "prod")
EXPORTS = ("airflowUrl", "flowerUrl", "ecrRepositoryUrl", "clusterName", "dbEndpoint", "adminPasswordSecretArn")


@dataclass
class Deployed:
    stack: str
    config: dict[str, Any]
    mocks: RecordingMocks

    def setting(self, key: str) -> Any:
        return read_back(self.config[f"{PROJECT}:{key}"])


def deploy(stack: str, **overrides: Any) -> Deployed:
    """`pulumi up -s <stack>` under mocks: the CLI's config merge (aws/pulumi_cli.py), then __main__.py.

    A stack as its files define it is built once per test process (tests only read the recorded resources); a
    stack with overrides is built each time."""
    if not overrides:
        return _deploy_as_committed(stack)
    return _deploy(stack, overrides)


def _deploy(stack: str, overrides: dict[str, Any]) -> Deployed:
    config = harness.stack_engine_config(stack, {f"{PROJECT}:{key}": value for key, value in overrides.items()})
    return Deployed(stack, config, harness.run_program(PROGRAM, stack, config))


@functools.cache
def _deploy_as_committed(stack: str) -> Deployed:
    return _deploy(stack, {})


@pytest.fixture(scope="module", params=STACKS)
def deployed(request) -> Deployed:
    return deploy(request.param)


@pytest.fixture(scope="module")
def dev_stack() -> Deployed:
    return deploy("dev")


@pytest.fixture(scope="module")
def prod_stack() -> Deployed:
    return deploy("prod")


def ecs_roles(redis_mode: str) -> set[str]:
    """The roles that get an ECS service: every Airflow service, plus Redis when it runs on Fargate."""
    airflow = {r.name for r in ROLES if r.kind is Kind.AIRFLOW}
    return airflow | ({"redis"} if redis_mode == "fargate" else set())


# --- every stack ---------------------------------------------------------------------------------------------


def test_one_service_and_one_task_definition_per_role(deployed):
    expected = ecs_roles(deployed.setting("redisMode"))

    assert set(assertions.services_by_role(deployed.mocks)) == expected
    assert set(assertions.task_definitions_by_role(deployed.mocks)) == expected
    # Plus the one-off tasks' own, which no service runs: migrate (the migrate step, aws/migration.py), housekeeping.
    task_names = {task.name for task in deployed.mocks.of_type(assertions.TASK_DEFINITION)}
    one_off = {f"{assertions.component_name(deployed.mocks)}-{name}-task" for name in assertions.ONE_OFF_TASKS}
    assert one_off <= task_names
    assert len(deployed.mocks.of_type(assertions.SERVICE)) == len(expected)


def test_one_of_each_shared_resource(deployed):
    for type_token in (
        "aws:rds/instance:Instance",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:ecs/cluster:Cluster",
        "aws:ecr/repository:Repository",
    ):
        assert len(deployed.mocks.of_type(type_token)) == 1, type_token
    assert [c.name for c in deployed.mocks.components] == [f"airflow-{deployed.stack}"]


def test_migrate_runs_before_every_service_not_inside_the_scheduler_task(deployed):
    scheduler = assertions.task_definitions_by_role(deployed.mocks)["scheduler"]

    names = [c["name"] for c in deployed.mocks.container_definitions(scheduler) if c["name"] != AGENT_CONTAINER]

    # With autoscaling (min < max), the autoscaler runs next to the scheduler (aws/scaling.py).
    autoscales = bool(deployed.mocks.of_type("aws:appautoscaling/target:Target"))
    # The watchdog always runs there (watchdog/): a lost worker's tasks are retried within 90 s.
    assert names == ["scheduler", *(["autoscaler"] if autoscales else []), "watchdog"]
    assert role("migrate").runs_with is None
    (step,) = deployed.mocks.of_type("aws:lambda/invocation:Invocation")
    for service in deployed.mocks.of_type(assertions.SERVICE):
        assert step.urn in service.dependencies, service.name


def test_worker_desired_count_is_the_stack_config(deployed):
    services = assertions.services_by_role(deployed.mocks)

    assert services["worker"].inputs["desiredCount"] == deployed.setting("workerCount")
    counted = {"api-server": "apiServerCount", "scheduler": "schedulerCount", "triggerer": "triggererCount"}
    for name, service in services.items():
        if name in counted:
            assert service.inputs["desiredCount"] == deployed.setting(counted[name]), name
        elif name != "worker":
            assert service.inputs["desiredCount"] == role(name).desired_count, name


@pytest.mark.parametrize("stack", STACKS)
def test_changing_worker_count_changes_the_worker_service(stack):
    changed = deploy(stack, workerCount=4, workerMaxCount=10, dbInstanceClass="db.m7g.large")

    assert assertions.services_by_role(changed.mocks)["worker"].inputs["desiredCount"] == 4


def test_core_checks(deployed):
    allowed = deployed.setting("allowedCidrs") or [deployed.setting("vpcCidr")]
    assertions.assert_core(deployed.mocks, allowed, deployed.setting("flowerOnLoadBalancer"))


def test_task_sizes_are_the_description_defaults(deployed):
    """Except what the stack file sizes itself (dev's Redis)."""
    overrides = deployed.setting("roleSizes") or {}
    for name, task in assertions.task_definitions_by_role(deployed.mocks).items():
        expected = overrides.get(name, {})
        size = (expected.get("cpu", role(name).size.cpu), expected.get("memory", role(name).size.memory))
        assert assertions.task_size(task) == size, name


def test_log_retention_is_the_stack_config(deployed):
    groups = deployed.mocks.of_type("aws:cloudwatch/logGroup:LogGroup")

    assert groups
    assert {group.inputs["retentionInDays"] for group in groups} == {deployed.setting("logRetentionDays")}


def test_outputs_are_exported(deployed):
    outputs = deployed.mocks.stack_outputs

    assert set(outputs) == {*EXPORTS, "dagBucket"}
    assert all(isinstance(outputs[name], str) and outputs[name] for name in EXPORTS)
    assert outputs["dagBucket"] == ""  # only a stack with dagSource s3 has a DAG bucket
    assert outputs["adminPasswordSecretArn"].startswith("arn:aws:secretsmanager:")
    scheme = "https://" if deployed.setting("certificateArn") else "http://"
    assert outputs["airflowUrl"].startswith(scheme)


def test_stack_tags_reach_every_tagged_resource(deployed):
    tags = deployed.setting("tags")
    tagged = [record for record in deployed.mocks.records if "tags" in record.inputs]

    assert tagged
    for record in tagged:
        assert tags.items() <= record.inputs["tags"].items(), record.name


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        # workerMaxCount has no type in Pulumi.yaml, so the CLI passes "two" on and the program refuses it.
        pytest.param({"workerMaxCount": "two"}, f"{PROJECT}:workerMaxCount", id="wrong-type"),
        pytest.param({"wokerCount": 2}, f"{PROJECT}:wokerCount", id="unknown-key"),
        # A value resolve_args refuses is named by the config key the user wrote, not the Python argument.
        pytest.param({"workerMinCount": 5}, f"{PROJECT}:workerMinCount", id="bad-value"),
        pytest.param({"name": "Airflow_Dev"}, f"{PROJECT}:name", id="bad-name"),
        pytest.param({"roleSizes": {"worker": {"cpu": 1000}}}, f"{PROJECT}:roleSizes.worker", id="bad-nested-value"),
    ],
)
def test_bad_stack_config_stops_the_program_before_any_resource(monkeypatch, overrides, key):
    remembered = assertions.remember_mocks(monkeypatch)

    with pytest.raises(ConfigError) as caught:
        deploy("dev", **overrides)

    assert caught.value.key == key
    (mocks,) = remembered
    assert mocks.records == []


def test_prod_as_shipped_is_refused_until_its_placeholders_are_replaced(monkeypatch):
    remembered = assertions.remember_mocks(monkeypatch)
    config = pulumi_cli.engine_config(ROOT, "prod")

    with pytest.raises(ConfigError, match="replace it in the stack file") as caught:
        harness.run_program(PROGRAM, "prod", config)

    assert caught.value.key == f"{PROJECT}:certificateArn"
    (mocks,) = remembered
    assert mocks.records == []


# --- dev: cheap and destroyable ------------------------------------------------------------------------------


def test_dev_runs_redis_as_a_fargate_service(dev_stack):
    assert "redis" in assertions.services_by_role(dev_stack.mocks)
    assert dev_stack.mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup") == []


def test_dev_database_is_single_az_and_destroyable(dev_stack):
    database = dev_stack.mocks.one(assertions.RDS_INSTANCE)

    assert database.inputs["skipFinalSnapshot"] is True
    assert database.inputs["multiAz"] is False
    assert database.inputs["deletionProtection"] is False


def test_dev_is_small(dev_stack):
    assert dev_stack.setting("workerCount") == 0  # idles at zero workers; the autoscaler starts one
    assert dev_stack.mocks.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True
    assert dev_stack.setting("logRetentionDays") <= 14


# --- prod: redundant and hard to delete ----------------------------------------------------------------------


def test_prod_database_is_multi_az_protected_and_keeps_a_final_snapshot(prod_stack):
    database = prod_stack.mocks.one(assertions.RDS_INSTANCE)

    assert database.inputs["multiAz"] is True
    assert database.inputs["deletionProtection"] is True
    assert database.inputs["skipFinalSnapshot"] is False
    assert database.inputs["instanceClass"] == prod_stack.setting("dbInstanceClass") != "db.t4g.small"


def test_prod_uses_elasticache_with_tls_and_no_redis_service(prod_stack):
    group = prod_stack.mocks.one("aws:elasticache/replicationGroup:ReplicationGroup")

    assert group.inputs["transitEncryptionEnabled"] is True
    assert group.inputs["nodeType"] == prod_stack.setting("redisNodeType")
    assert "redis" not in assertions.services_by_role(prod_stack.mocks)


def test_prod_serves_https_with_the_configured_certificate(prod_stack):
    listeners = prod_stack.mocks.of_type("aws:lb/listener:Listener")

    https = [listener for listener in listeners if listener.inputs.get("protocol") == "HTTPS"]
    assert len(https) == 1
    assert https[0].inputs["certificateArn"] == prod_stack.setting("certificateArn")


def test_prod_workers_have_room_to_scale(prod_stack):
    assert prod_stack.setting("workerMinCount") >= 2
    assert (
        prod_stack.setting("workerMinCount")
        <= prod_stack.setting("workerCount")
        <= prod_stack.setting("workerMaxCount")
    )


# --- database and broker changes: at once in dev, in the maintenance window in prod ----------------------------


def test_dev_applies_database_changes_at_once(dev_stack):
    database = dev_stack.mocks.one(assertions.RDS_INSTANCE).inputs

    assert database["applyImmediately"] is True
    # A major version change needs dbAllowMajorVersionUpgrade in the same `pulumi up`, in dev too.
    assert database["allowMajorVersionUpgrade"] is False


def test_prod_waits_for_the_maintenance_window(prod_stack):
    database = prod_stack.mocks.one(assertions.RDS_INSTANCE).inputs
    broker = prod_stack.mocks.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs

    assert database["applyImmediately"] is False
    assert broker["applyImmediately"] is False
    # A major engine upgrade (dbEngineVersion 16 -> 17) needs dbAllowMajorVersionUpgrade: never by surprise.
    assert database["allowMajorVersionUpgrade"] is False


def test_a_major_engine_upgrade_is_allowed_and_applied_when_asked(monkeypatch):
    upgraded = deploy("prod", dbEngineVersion="17", applyImmediately=True, dbAllowMajorVersionUpgrade=True)
    database = upgraded.mocks.one(assertions.RDS_INSTANCE).inputs
    broker = upgraded.mocks.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs

    assert (database["engineVersion"], database["allowMajorVersionUpgrade"]) == ("17", True)
    assert database["applyImmediately"] is True is broker["applyImmediately"]
