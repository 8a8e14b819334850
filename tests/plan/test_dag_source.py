"""`plan` shows where DAGs come from and who may fetch them, read from what the component registered."""

from __future__ import annotations

import json

from rich.console import Console

from airflow_celery.plan import make_plan
from airflow_celery.plan.render import print_plan, to_json
from tests.plan.conftest import PROJECT_DIR

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dags-git-AbCdEf"
GIT = ("dagSource=git", "dagRepoUrl=https://github.com/example/dags.git", "dagRef=release", f"dagGitSecretArn={ARN}")


def test_dev_plan_says_the_dags_are_in_the_image(dev_plan):
    assert dev_plan.dag_source.source.startswith("image:")
    assert dev_plan.dag_source.credential_holders == () and dev_plan.dag_source.bundle_readers == ()


def test_a_git_stack_plan_shows_the_source_the_credential_holders_and_their_iam():
    plan = make_plan(PROJECT_DIR, "dev", GIT)
    facts = plan.dag_source
    assert facts.source.startswith("git: https://github.com/example/dags.git @ release")
    assert facts.credential_holders == ("dag-processor", "worker")
    assert facts.credential_readers == ("dag-processor", "worker")
    assert {"api-server", "dag-processor", "scheduler", "triggerer", "worker"} <= set(facts.bundle_readers)
    assert facts.storage == "/opt/airflow/dag_bundles"
    console = Console(record=True, width=200)
    print_plan(plan, console)
    text = console.export_text()
    assert "DAG source" in text and "IAM secretsmanager:GetSecretValue on it: dag-processor, worker" in text
    document = to_json(plan)
    assert document["dag_source"]["credential_readers"] == ["dag-processor", "worker"]
    assert ARN not in json.dumps(document["roles"])
