"""Secrets: generated, stored in Secrets Manager, injected by ARN, and never visible anywhere else."""

from __future__ import annotations

import base64
import json
import re

import pytest

from airflow_celery.aws.task_definition import SECRET_VERSIONS_LABEL
from airflow_celery.cluster.env import SHARED_SECRETS, role_environment, secret_names_used
from airflow_celery.cluster.metrics import AGENT_CONTAINER
from airflow_celery.cluster.roles import ROLES
from airflow_celery.cluster.secrets import FERNET_KEY_BYTES, GENERATED_LENGTHS, SecretName
from tests.aws import harness
from tests.aws.conftest import DEV_ARGS, DEV_NAME, PROD_NAME
from tests.cluster_settings import settings_with

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET_LOOKING = re.compile(
    r"PASSWORD|SECRET|FERNET|SQL_ALCHEMY_CONN|BROKER_URL|RESULT_BACKEND(?!_SQLALCHEMY_ENGINE_OPTIONS$)|BASIC_AUTH|TOKEN"
)
"""Names that would hold a credential. The result backend's engine options (the scheduler's pool size, pre-ping and
recycle: cluster/env.py, SCHEDULER_RESULT_ENGINE_OPTIONS) hold none; their value is checked like every other."""


def _secret_variables() -> set[str]:
    settings = settings_with(execution_api_url="http://x/execution/")
    return {var for r in ROLES for var in role_environment(r.name, settings).secrets}


def _stored(mocks: harness.RecordingMocks, cluster: str) -> dict[str, harness.Recorded]:
    return {s.name.removeprefix(f"{cluster}-"): s for s in mocks.of_type(SECRET)}


def _values(mocks: harness.RecordingMocks, cluster: str) -> dict[str, str]:
    return {
        v.name.removeprefix(f"{cluster}-").removesuffix("-value"): v.inputs["secretString"]
        for v in mocks.of_type(VERSION)
    }


def test_exactly_the_secrets_some_role_reads_are_stored(built):
    (component,) = built.components
    assert set(_stored(built, component.name)) == {str(name) for name in secret_names_used()}
    versions = built.of_type(VERSION)
    assert len(versions) == len(secret_names_used())
    assert all("secretString" in v.secret_inputs for v in versions)


def test_generated_with_pulumi_random(built):
    (component,) = built.components
    passwords = {
        p.name.removeprefix(f"{component.name}-"): p
        for p in built.of_type("random:index/randomPassword:RandomPassword")
    }
    assert set(passwords) == {str(name) for name in GENERATED_LENGTHS}
    for name, length in GENERATED_LENGTHS.items():
        assert passwords[name].inputs["length"] == length
        assert passwords[name].inputs["special"] is False
    (raw,) = built.of_type("random:index/randomBytes:RandomBytes")
    assert raw.inputs["length"] == FERNET_KEY_BYTES


def test_fernet_key_is_the_url_safe_encoding_of_the_random_bytes(dev):
    (raw,) = dev.of_type("random:index/randomBytes:RandomBytes")
    stored = _values(dev, DEV_NAME)[SecretName.FERNET_KEY]
    assert stored == base64.urlsafe_b64encode(base64.b64decode(raw.outputs["base64"])).decode()
    assert len(base64.urlsafe_b64decode(stored)) == FERNET_KEY_BYTES


def test_composed_urls_point_at_the_real_endpoints(dev, prod):
    db_host = dev.one("aws:rds/instance:Instance").outputs["address"]
    values = _values(dev, DEV_NAME)
    password = dev.one("random:index/randomPassword:RandomPassword", f"{DEV_NAME}-database-password").outputs["result"]
    assert (
        values[SecretName.DATABASE_URL] == f"postgresql+psycopg2://airflow:{password}@{db_host}:5432/airflow"
        "?sslmode=verify-full&sslrootcert=/opt/airflow-celery/rds-global-bundle.pem"
    )
    # asyncpg takes the bundle from PGSSLROOTCERT, which every Airflow container gets (test_tls_verify.py)
    assert (
        values[SecretName.DATABASE_ASYNC_URL]
        == f"postgresql+asyncpg://airflow:{password}@{db_host}:5432/airflow?ssl=verify-full"
    )
    # every container that opens the async engine; the sidecars (autoscaler, watchdog) use the psycopg2 URL only,
    # which names the bundle itself
    async_readers = 0
    for _, container in dev.all_containers():
        if any(s["name"] == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" for s in container.get("secrets", [])):
            env = {e["name"]: e["value"] for e in container.get("environment", [])}
            assert env["PGSSLROOTCERT"] == "/opt/airflow-celery/rds-global-bundle.pem", container["name"]
            async_readers += 1
    assert async_readers >= 5  # api-server, scheduler, dag-processor, triggerer, migrate
    assert values[SecretName.RESULT_BACKEND_URL].startswith("db+postgresql://celery_results:")
    assert values[SecretName.BROKER_URL].startswith("redis://:")
    assert values[SecretName.BROKER_URL].endswith(f"@redis.{DEV_NAME}.airflow.internal:6379/0")
    assert values[SecretName.FLOWER_BASIC_AUTH].startswith("admin:")
    prod_host = prod.one("aws:elasticache/replicationGroup:ReplicationGroup").outputs["primaryEndpointAddress"]
    prod_broker = _values(prod, PROD_NAME)[SecretName.BROKER_URL]
    assert prod_broker.startswith("rediss://:") and f"@{prod_host}:6379/0" in prod_broker


def test_no_secret_value_in_any_container_definition_or_environment(built):
    secrets = built.all_secret_values()
    assert secrets
    for task in built.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        text = task.inputs["containerDefinitions"]
        assert not [s for s in secrets if s in text], task.name
        for container in json.loads(text):
            for variable in container["environment"]:
                assert not any(s in variable["value"] for s in secrets), variable["name"]


def test_no_secret_named_variable_in_any_environment(built):
    secret_variables = _secret_variables()
    for _, container in built.all_containers():
        names = {e["name"] for e in container["environment"]}
        assert not names & secret_variables, container["name"]
        assert not [n for n in names if SECRET_LOOKING.search(n)], container["name"]


def test_secrets_are_injected_by_arn(built):
    arns = {s.outputs["arn"] for s in built.of_type(SECRET)}
    for _, container in built.all_containers():
        if container["name"] == AGENT_CONTAINER:  # the metrics agent reads none (test_airflow_metrics.py)
            assert "secrets" not in container
            continue
        assert container["secrets"]
        assert {s["valueFrom"] for s in container["secrets"]} <= arns


def test_every_airflow_container_gets_the_same_shared_secret_arns(built):
    (component,) = built.components
    stored = _stored(built, component.name)
    airflow = [c for _, c in built.all_containers()
               if c["name"] not in ("redis", "autoscaler", "watchdog", "housekeeping", AGENT_CONTAINER)]  # fmt: skip
    assert len(airflow) == 7
    for variable, name in SHARED_SECRETS.items():
        found = {s["valueFrom"] for c in airflow for s in c["secrets"] if s["name"] == variable}
        assert found == {stored[name].outputs["arn"]}, variable


def _execution_policy_resources(built, role_arn: str) -> set[str]:
    role = next(r for r in built.of_type("aws:iam/role:Role") if r.outputs["arn"] == role_arn)
    policy = json.loads(built.one("aws:iam/rolePolicy:RolePolicy", f"{role.name}-secrets").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    return set(statement["Resource"])


def test_each_task_has_its_own_execution_role_reading_exactly_its_containers_secrets(built):
    tasks = built.of_type("aws:ecs/taskDefinition:TaskDefinition")
    role_arns = [task.inputs["executionRoleArn"] for task in tasks]
    assert len(set(role_arns)) == len(tasks)  # one execution role per task, none shared
    readable: set[str] = set()
    every_given = {s["valueFrom"] for _, c in built.all_containers() for s in c.get("secrets", [])}
    for task in tasks:
        given = {s["valueFrom"] for c in built.container_definitions(task) for s in c.get("secrets", [])}
        resources = _execution_policy_resources(built, task.inputs["executionRoleArn"])
        if task.name.endswith("-scheduler-task"):
            # The heir of the former shared role keeps its union for one release (test_the_heir_of_the_shared...).
            assert resources == every_given, task.name
        else:
            assert resources == given, task.name
        readable |= resources
    stored = {s.outputs["arn"]: s.name for s in built.of_type(SECRET)}
    unread = {stored[arn].rsplit("-", 2)[-2] + "-" + stored[arn].rsplit("-", 1)[-1] for arn in set(stored) - readable}
    # Every stored secret is read by some task, but for the Redis password with ElastiCache, whose AUTH token it
    # only is (the broker URL carries it to the tasks).
    has_redis_task = any(t.name.endswith("-redis-task") for t in tasks)
    assert readable <= set(stored) and unread == (set() if has_redis_task else {"redis-password"})
    attachments = built.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert {a.inputs["policyArn"] for a in attachments} == {
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    }
    assert len(attachments) == len(tasks)


def test_the_worker_can_read_neither_the_metadata_db_nor_the_jwt_secret(built):
    (component,) = built.components
    stored = _stored(built, component.name)
    worker = built.one("aws:ecs/taskDefinition:TaskDefinition", f"{component.name}-worker-task")
    resources = _execution_policy_resources(built, worker.inputs["executionRoleArn"])
    for name in (SecretName.DATABASE_URL, SecretName.JWT_SECRET, SecretName.FERNET_KEY, SecretName.ADMIN_PASSWORD):
        assert stored[name].outputs["arn"] not in resources, name
    assert stored[SecretName.RESULT_BACKEND_URL].outputs["arn"] in resources


def test_outputs_hold_no_secret_values_and_name_the_admin_secret(built):
    (component,) = built.components
    secrets = built.all_secret_values() | {harness.ECR_PASSWORD}
    outputs = json.dumps(component.registered_outputs)
    assert not [s for s in secrets if s in outputs]
    admin = _stored(built, component.name)[SecretName.ADMIN_PASSWORD]
    assert component.registered_outputs["admin_password_secret_arn"] == admin.outputs["arn"]


def test_no_secret_value_in_any_tag_or_name(built):
    secrets = built.all_secret_values()
    for record in built.records:
        text = json.dumps(record.inputs.get("tags") or {}) + record.name
        assert not [s for s in secrets if s in text], record.name


def _labels(mocks) -> dict[str, str]:
    return {
        container["name"]: container["dockerLabels"][SECRET_VERSIONS_LABEL]
        for _, container in mocks.all_containers()
        if container["name"] != AGENT_CONTAINER  # reads no secret
    }


def _readers(secret: SecretName) -> set[str]:
    settings = settings_with(execution_api_url="http://api-server:8080/execution/")
    return {r.name for r in ROLES if secret in role_environment(r.name, settings).secrets.values()}


@pytest.mark.parametrize("secret", [SecretName.BROKER_URL, SecretName.FERNET_KEY, SecretName.ADMIN_PASSWORD])
def test_a_new_secret_value_rolls_exactly_the_roles_that_read_it(dev, secret):
    """A new value gets a new version id; the label of each container reading it changes, so its task
    definition gets a new revision and ECS rolls the service. Containers that don't read it stay put."""
    rotated = harness.build_component(DEV_NAME, DEV_ARGS, rotated=[f"{DEV_NAME}-{secret}-value"])
    before, after = _labels(dev), _labels(rotated)

    changed = {name for name in before if before[name] != after[name]}

    assert changed == _readers(secret) & set(before)
    assert changed


def test_the_label_holds_version_ids_only(dev):
    secret_values = dev.all_secret_values()

    for label in _labels(dev).values():
        assert re.fullmatch(r"[0-9a-f]{32}", label)
        assert not any(value in label for value in secret_values)


def test_the_async_database_url_is_stored_and_read_by_every_database_role(built):
    """Airflow derives a broken async URL from an `sslmode` URL; every container that gets the sync URL gets
    the async one too, from its own stored secret, which the execution role may read."""
    (component,) = built.components
    arn = _stored(built, component.name)[SecretName.DATABASE_ASYNC_URL].outputs["arn"]
    with_db = 0
    for _, container in built.all_containers():
        refs = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
        # The sidecars (autoscaler, watchdog) use one plain sync engine: no ORM, no async URL.
        if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in refs and container["name"] not in ("autoscaler", "watchdog"):
            with_db += 1
            assert refs["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == arn, container["name"]
    # api-server, scheduler, dag-processor, triggerer, migrate and housekeeping (Airflow 3 workers use none)
    assert with_db == 6
    api_server = built.one("aws:ecs/taskDefinition:TaskDefinition", f"{component.name}-api-server-task")
    assert arn in _execution_policy_resources(built, api_server.inputs["executionRoleArn"])


def test_the_scheduler_execution_role_takes_over_the_single_shared_one_of_earlier_stacks(built):
    """Aliases tell the engine that the scheduler's role, attachment and policy were the shared ones, so an
    existing stack updates them in place instead of deleting a role that old tasks may still use."""
    (component,) = built.components
    name = component.name
    aliased = {r.name: r.aliases for r in built.records if r.aliases}
    assert aliased == {
        f"{name}-scheduler-{suffix}": [f"{name}-{suffix}"]
        for suffix in ("execution-role", "execution-role-ecs", "execution-role-secrets")
    }


def test_the_heir_of_the_shared_role_still_reads_every_tasks_secrets_for_one_release(built):
    """Task definitions registered before one execution role per task name the shared role, now the scheduler's
    (aliases above). ECS reads a task's secrets with its definition's execution role each time it starts one: an
    old api-server or worker task replaced during the first deploy after the upgrade must still read its own. So
    the heir reads the union of every task's secrets (iam.execution_secret_names), and no other role gains any."""
    (component,) = built.components
    scheduler = built.one("aws:ecs/taskDefinition:TaskDefinition", f"{component.name}-scheduler-task")
    heir = _execution_policy_resources(built, scheduler.inputs["executionRoleArn"])
    for task in built.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        given = {s["valueFrom"] for c in built.container_definitions(task) for s in c.get("secrets", [])}
        assert given <= heir, task.name
    worker = built.one("aws:ecs/taskDefinition:TaskDefinition", f"{component.name}-worker-task")
    assert len(_execution_policy_resources(built, worker.inputs["executionRoleArn"])) < len(heir)
