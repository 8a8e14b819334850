import json

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.dag_source import (
    BUNDLE_CONFIG_VAR,
    BUNDLE_STORAGE_VAR,
    CLEANUP_INTERVAL,
    CLEANUP_INTERVAL_VAR,
    FARGATE_BUNDLE_STORAGE,
    FETCHING_ROLES,
    GIT_BUNDLE_CLASS,
    GIT_CONN_ID,
    PARSING_SORT_MODE_VAR,
    SERIALIZED_DAG_UPDATE_INTERVAL_VAR,
    DagSource,
    DagSourceError,
    dag_source,
)
from airflow_celery.cluster.failure_notifications import TOPIC_ARN_VAR
from airflow_celery.cluster.roles import AIRFLOW_SERVICES
from tests.cluster_settings import settings_with

GIT = dag_source("git", "https://github.com/example/dags.git", "main", "dags", 30, has_credential=True)


def test_image_is_the_default_and_only_turns_the_workers_stale_version_cleanup_off():
    settings = settings_with(execution_api_url="http://x/execution/")
    assert settings.dag_source == DagSource()
    worker = role_environment("worker", settings).plain
    assert {key: value for key, value in worker.items() if key.startswith("AIRFLOW__DAG_PROCESSOR__")} == {
        CLEANUP_INTERVAL_VAR: "0"
    }
    for other in AIRFLOW_SERVICES:
        if other.name != "worker":
            plain = role_environment(other.name, settings).plain
            assert not any(key.startswith("AIRFLOW__DAG_PROCESSOR__") for key in plain), other.name


@pytest.mark.parametrize("source", [GIT, dag_source("s3", bucket="dags-bucket")], ids=["git", "s3"])
def test_a_versioned_source_keeps_the_workers_stale_version_cleanup(source):
    settings = settings_with(execution_api_url="http://x/execution/", dag_source=source)
    assert role_environment("worker", settings).plain[CLEANUP_INTERVAL_VAR] == str(CLEANUP_INTERVAL)


def test_git_gives_every_airflow_role_the_same_bundle_list():
    settings = settings_with(execution_api_url="http://x/execution/", dag_source=GIT)
    values = {role_environment(r.name, settings).plain[BUNDLE_CONFIG_VAR] for r in AIRFLOW_SERVICES}
    (config,) = values
    assert json.loads(config) == [
        {
            "name": "dags",
            "classpath": GIT_BUNDLE_CLASS,
            "kwargs": {
                "repo_url": "https://github.com/example/dags.git",
                "tracking_ref": "main",
                "refresh_interval": 30,
                "subdir": "dags",
                "git_conn_id": GIT_CONN_ID,
            },
        }
    ]


def test_checkouts_live_under_airflow_home_locally_and_in_ephemeral_storage_on_fargate():
    fargate = settings_with(execution_api_url="http://x/execution/", dag_source=GIT)
    local = settings_with(execution_api_url="http://x/execution/", dag_source=GIT, airflow_home="/s/airflow")
    assert role_environment("worker", fargate).plain[BUNDLE_STORAGE_VAR] == FARGATE_BUNDLE_STORAGE
    assert role_environment("worker", local).plain[BUNDLE_STORAGE_VAR] == "/s/airflow/dag_bundles"


@pytest.mark.parametrize("source", [GIT, dag_source("s3", bucket="dags-bucket")], ids=["git", "s3"])
def test_a_versioned_source_has_the_dag_processor_write_each_new_version_at_once(source):
    settings = settings_with(execution_api_url="http://x/execution/", dag_source=source)
    processor = role_environment("dag-processor", settings).plain
    assert processor[SERIALIZED_DAG_UPDATE_INTERVAL_VAR] == "0"
    assert processor[PARSING_SORT_MODE_VAR] == "modified_time"
    # The other roles read the option only as their serialized-DAG cache's window: Airflow's default stays.
    for other in AIRFLOW_SERVICES:
        if other.name != "dag-processor":
            assert SERIALIZED_DAG_UPDATE_INTERVAL_VAR not in role_environment(other.name, settings).plain, other.name


def test_the_dag_processor_keeps_its_failure_topic_beside_the_bundle_settings():
    arn = "arn:aws:sns:eu-west-1:123456789012:alarms"
    settings = settings_with(execution_api_url="http://x/execution/", dag_source=GIT, dag_failure_topic_arn=arn)
    processor = role_environment("dag-processor", settings).plain
    assert processor[SERIALIZED_DAG_UPDATE_INTERVAL_VAR] == "0" and processor[TOPIC_ARN_VAR] == arn


def test_image_leaves_the_dag_processor_at_airflows_defaults():
    processor = role_environment("dag-processor", settings_with(execution_api_url="http://x/execution/")).plain
    assert SERIALIZED_DAG_UPDATE_INTERVAL_VAR not in processor and PARSING_SORT_MODE_VAR not in processor


def test_the_credential_goes_only_to_the_roles_that_fetch():
    assert set(FETCHING_ROLES) == {"dag-processor", "worker"}


def test_no_credential_no_connection_id():
    public = dag_source("git", "https://github.com/example/dags.git")
    assert "git_conn_id" not in public.bundle_config()[0]["kwargs"]
    assert public.ref == "main" and public.refresh_interval == 30


@pytest.mark.parametrize(
    ("changes", "key", "allowed"),
    [
        ({"kind": "s4"}, "kind", "image or git"),
        ({"repo_url": None}, "repo_url", "a repository"),
        ({"repo_url": "github.com/x"}, "repo_url", "a repository"),
        ({"repo_url": "https://user:token@github.com/x.git"}, "repo_url", "without a user or token"),
        ({"ref": "-rf"}, "ref", "a branch or tag"),
        ({"ref": "a..b"}, "ref", "a branch or tag"),
        ({"subdir": "/abs"}, "subdir", "a relative folder"),
        ({"subdir": "../up"}, "subdir", "a relative folder"),
        ({"refresh_interval": 1}, "refresh_interval", "5 to 3600"),
        ({"refresh_interval": True}, "refresh_interval", "5 to 3600"),
    ],
)
def test_bad_settings_name_the_key_the_value_and_what_is_allowed(changes, key, allowed):
    given = {"kind": "git", "repo_url": "https://github.com/example/dags.git", **changes}
    with pytest.raises(DagSourceError) as error:
        dag_source(**given, keys={key: f"dags.{key}"})
    assert error.value.key == f"dags.{key}"
    assert allowed in str(error.value)
    assert "token@" not in str(error.value)


def test_git_settings_on_an_image_source_are_refused():
    with pytest.raises(DagSourceError, match="only with"):
        dag_source("image", repo_url="https://github.com/example/dags.git")
    with pytest.raises(DagSourceError, match="only with"):
        dag_source("image", has_credential=True)


def test_describe_names_the_source():
    assert "image" in DagSource().describe()
    assert GIT.describe().startswith("git: https://github.com/example/dags.git @ main, folder dags")
