"""Secrets: generated, stored in Secrets Manager, injected by ARN, and never visible anywhere else."""

from __future__ import annotations

import base64
import json
import re

import pytest

from airflow_celery.aws.task_definition import SECRET_VERSIONS_LABEL
from airflow_celery.cluster.env import SHARED_SECRETS, ClusterSettings, role_environment, secret_names_used
from airflow_celery.cluster.roles import ROLES
from airflow_celery.cluster.secrets import FERNET_KEY_BYTES, GENERATED_LENGTHS, SecretName
from tests.aws import harness
from tests.aws.conftest import DEV_ARGS, DEV_NAME, PROD_NAME

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SECRET_LOOKING = re.compile(r"PASSWORD|SECRET|FERNET|SQL_ALCHEMY_CONN|BROKER_URL|RESULT_BACKEND|BASIC_AUTH|TOKEN")


def _secret_variables() -> set[str]:
    settings = ClusterSettings(execution_api_url="http://x/execution/")
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
        values[SecretName.DATABASE_URL]
        == f"postgresql+psycopg2://airflow:{password}@{db_host}:5432/airflow?sslmode=require"
    )
    assert (
        values[SecretName.DATABASE_ASYNC_URL]
        == f"postgresql+asyncpg://airflow:{password}@{db_host}:5432/airflow?ssl=require"
    )
    assert values[SecretName.RESULT_BACKEND_URL].startswith("db+postgresql://airflow:")
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
        assert container["secrets"]
        assert {s["valueFrom"] for s in container["secrets"]} <= arns


def test_every_airflow_container_gets_the_same_shared_secret_arns(built):
    (component,) = built.components
    stored = _stored(built, component.name)
    airflow = [c for _, c in built.all_containers() if c["name"] != "redis"]
    assert len(airflow) == 7
    for variable, name in SHARED_SECRETS.items():
        found = {next(s["valueFrom"] for s in c["secrets"] if s["name"] == variable) for c in airflow}
        assert found == {stored[name].outputs["arn"]}, variable


def test_execution_role_reads_exactly_the_stored_secrets(built):
    (component,) = built.components
    policy = json.loads(
        built.one("aws:iam/rolePolicy:RolePolicy", f"{component.name}-execution-role-secrets").inputs["policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert set(statement["Resource"]) == {s.outputs["arn"] for s in built.of_type(SECRET)}
    attachment = built.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    execution_role = built.one("aws:iam/role:Role", f"{component.name}-execution-role")
    assert {t.inputs["executionRoleArn"] for t in built.of_type("aws:ecs/taskDefinition:TaskDefinition")} == {
        execution_role.outputs["arn"]
    }


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
        container["name"]: container["dockerLabels"][SECRET_VERSIONS_LABEL] for _, container in mocks.all_containers()
    }


def _readers(secret: SecretName) -> set[str]:
    settings = ClusterSettings(execution_api_url="http://api-server:8080/execution/")
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
        refs = {s["name"]: s["valueFrom"] for s in container["secrets"]}
        if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in refs:
            with_db += 1
            assert refs["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == arn, container["name"]
    assert with_db == 6  # api-server, scheduler, dag-processor, triggerer, worker and migrate
    policy = json.loads(
        built.one("aws:iam/rolePolicy:RolePolicy", f"{component.name}-execution-role-secrets").inputs["policy"]
    )
    assert arn in policy["Statement"][0]["Resource"]
