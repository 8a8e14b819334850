"""The git DAG source on AWS: the bundle list in every Airflow container, the credential only where git runs."""

from __future__ import annotations

import json

import pytest

from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.cluster.dag_source import (
    BUNDLE_CONFIG_VAR,
    BUNDLE_STORAGE_VAR,
    FARGATE_BUNDLE_STORAGE,
    GIT_CONN_VAR,
)
from airflow_celery.cluster.roles import AIRFLOW_SERVICES
from tests.aws import harness

CREDENTIAL = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dags-git-AbCdEf"
GIT_ARGS = {
    "dag_source": "git",
    "dag_repo_url": "https://github.com/example/dags.git",
    "dag_ref": "release",
    "dag_subdir": "dags",
    "dag_refresh_interval": 20,
    "dag_git_secret_arn": CREDENTIAL,
}
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture(scope="module")
def git_stack() -> harness.RecordingMocks:
    return harness.build_component("airflow-git", GIT_ARGS)


def _containers(mocks) -> dict[str, dict]:
    return {container["name"]: container for _, container in mocks.all_containers()}


def _execution_policy(mocks, task) -> set[str]:
    role = next(r for r in mocks.of_type("aws:iam/role:Role") if r.outputs["arn"] == task.inputs["executionRoleArn"])
    policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", f"{role.name}-secrets").inputs["policy"])
    return set(policy["Statement"][0]["Resource"])


def test_only_the_dag_processor_and_the_workers_get_the_git_credential(git_stack):
    given = {
        name: [s["valueFrom"] for s in c.get("secrets", []) if s["name"] == GIT_CONN_VAR]
        for name, c in _containers(git_stack).items()
    }
    assert {name for name, arns in given.items() if arns} == {"dag-processor", "worker"}
    assert given["dag-processor"] == [CREDENTIAL]
    for _, container in git_stack.all_containers():
        assert CREDENTIAL not in json.dumps(container.get("environment", []))


def test_only_their_execution_roles_may_read_it(git_stack):
    readers = {
        task.name.removeprefix("airflow-git-").removesuffix("-task")
        for task in git_stack.of_type(TASK_DEFINITION)
        if CREDENTIAL in _execution_policy(git_stack, task)
    }
    assert readers == {"dag-processor", "worker"}


def test_every_airflow_container_reads_the_same_bundle_list_and_keeps_checkouts_in_ephemeral_storage(git_stack):
    containers = _containers(git_stack)
    envs = [{e["name"]: e["value"] for e in containers[r.name]["environment"]} for r in AIRFLOW_SERVICES]
    (config,) = {env[BUNDLE_CONFIG_VAR] for env in envs}
    (bundle,) = json.loads(config)
    assert bundle["kwargs"] == {
        "repo_url": "https://github.com/example/dags.git",
        "tracking_ref": "release",
        "refresh_interval": 20,
        "subdir": "dags",
        "git_conn_id": "dags_git",
    }
    assert {env[BUNDLE_STORAGE_VAR] for env in envs} == {FARGATE_BUNDLE_STORAGE}


def test_the_image_source_is_the_default_and_sets_no_bundle(dev):
    for _, container in dev.all_containers():
        names = {e["name"] for e in container.get("environment", [])} | {
            s["name"] for s in container.get("secrets", [])
        }
        assert BUNDLE_CONFIG_VAR not in names and GIT_CONN_VAR not in names


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"dag_source": "svn"}, "dag_source"),
        ({"dag_repo_url": "github.com/example/dags"}, "dag_repo_url"),
        ({"dag_repo_url": "https://me:ghp_secret@github.com/example/dags.git"}, "dag_repo_url"),
        ({"dag_ref": "bad ref"}, "dag_ref"),
        ({"dag_refresh_interval": 2}, "dag_refresh_interval"),
        ({"dag_git_secret_arn": "dags-git"}, "dag_git_secret_arn"),
        ({"dag_source": "image"}, "dag_repo_url"),
    ],
)
def test_bad_dag_arguments_fail_before_anything_is_created(changes, key):
    with pytest.raises(ConfigError) as error:
        resolve_args("airflow-git", {**GIT_ARGS, **changes})
    assert error.value.key == key
    assert "ghp_secret" not in str(error.value)


@pytest.fixture(scope="module")
def s3_stack() -> harness.RecordingMocks:
    return harness.build_component("airflow-s3", {"dag_source": "s3", "dag_prefix": "team/"})


def test_s3_creates_a_private_bucket_and_only_the_readers_may_read_the_prefix(s3_stack):
    bucket = s3_stack.one("aws:s3/bucket:Bucket", "airflow-s3-dags")
    name = bucket.outputs["bucket"]
    assert s3_stack.components[0].registered_outputs["dag_bucket"] == name
    assert s3_stack.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "airflow-s3-dags-public-access")
    grants = {
        r.name.removeprefix("airflow-s3-").removesuffix("-task-role-dags"): json.loads(r.inputs["policy"])
        for r in s3_stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-task-role-dags")
    }
    assert set(grants) == {"dag-processor", "worker"}
    for policy in grants.values():
        actions = {a for st in policy["Statement"] for a in st["Action"]}
        assert actions == {"s3:GetObject", "s3:ListBucket"}  # read-only
        assert policy["Statement"][0]["Resource"] == [f"arn:aws:s3:::{name}/team/*"]
    roles = {t.name: t.inputs.get("taskRoleArn") for t in s3_stack.of_type(TASK_DEFINITION)}
    assert roles["airflow-s3-dag-processor-task"].endswith("/airflow-s3-dag-processor-task-role")
    assert roles["airflow-s3-api-server-task"].endswith("/airflow-s3-task-role")  # the shared role reads no DAGs


def test_s3_containers_read_the_created_bucket(s3_stack):
    name = s3_stack.one("aws:s3/bucket:Bucket", "airflow-s3-dags").outputs["bucket"]
    env = {e["name"]: e["value"] for e in _containers(s3_stack)["worker"]["environment"]}
    (bundle,) = json.loads(env[BUNDLE_CONFIG_VAR])
    assert bundle["kwargs"]["bucket_name"] == name and bundle["kwargs"]["prefix"] == "team/"
    assert json.loads(env["AIRFLOW_CONN_DAGS_S3"]) == {"conn_type": "aws"}  # the task role, no credential
