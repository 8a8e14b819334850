"""`dags push STACK` finds the stack's DAG bucket and prefix as `pulumi up` reads the stack (offline), and uploads
through boto3 (moto stands in for S3); a stack whose source is not s3 is refused by name."""

from __future__ import annotations

import shutil

import boto3
import pytest
from moto import mock_aws

from airflow_celery.aws.dags_push import stack_dags
from airflow_celery.bundles.layout import pointer_key
from airflow_celery.local.errors import LocalError
from tests.aws.harness import PROJECT_DIR


def _project(tmp_path, stack_yaml: str):
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_yaml)
    return tmp_path


def test_a_given_bucket_and_prefix_come_from_the_stack_config(tmp_path):
    stack = "config:\n  aws:region: eu-west-1\n  airflow-celery:dagSource: s3\n"
    stack += "  airflow-celery:dagBucket: acme-dags\n  airflow-celery:dagPrefix: team/\n"
    project = _project(tmp_path, stack)
    found = stack_dags(project, "dev")
    assert (found.bucket, found.prefix, found.refresh_interval) == ("acme-dags", "team/", 30)


def test_a_stack_without_the_s3_source_is_refused(tmp_path):
    project = _project(tmp_path, "config:\n  aws:region: eu-west-1\n")
    with pytest.raises(LocalError, match="reads its DAGs from 'image', not s3"):
        stack_dags(project, "dev")


@pytest.mark.airflow
def test_push_uploads_with_the_callers_credentials(tmp_path, monkeypatch):
    from airflow_celery.bundles.push import push

    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "empty.py").write_text("x = 1\n")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="acme-dags")
        version, dags = push(folder, client, "acme-dags", "team/")
        assert client.get_object(Bucket="acme-dags", Key=pointer_key("team/"))["Body"].read().decode() == version
        assert dags == []
