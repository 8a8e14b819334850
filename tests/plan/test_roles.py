"""Roles: command, size, count and exactly the secrets the description gives each."""

from __future__ import annotations

from airflow_celery.cluster.env import secrets_of


def _rows(plan):
    return {row.role: row for row in plan.roles}


def test_dev_roles(dev_plan):
    rows = _rows(dev_plan)

    assert rows["worker"].command == "airflow celery worker"
    assert rows["worker"].size == "1 vCPU / 3 GiB"
    assert rows["worker"].count_text == "0 (0-1)"  # idles at zero, autoscaled
    assert rows["redis"].runs_on == "Fargate"
    assert rows["postgres"].size == "db.t4g.small, 20 GiB"
    assert rows["migrate"].runs_on == "Fargate one-off task"
    assert rows["migrate"].count_text == "once per deploy, before the services"
    assert rows["migrate"].size == "0.5 vCPU / 2 GiB"


def test_prod_roles_show_worker_bounds_and_managed_services(prod_plan):
    rows = _rows(prod_plan)

    assert rows["worker"].count_text == "2 (2-10)"
    assert rows["api-server"].count == 2
    assert rows["redis"].runs_on == "ElastiCache"
    assert rows["redis"].count == 2
    assert rows["postgres"].size == "db.m7g.large multi-AZ, 100 GiB"


def test_each_role_reads_only_its_secrets(dev_plan):
    for row in dev_plan.roles:
        if row.runs_on != "RDS":
            assert set(row.secrets) == {str(name) for name in secrets_of(row.role).values()}
    assert set(_rows(dev_plan)["worker"].secrets) == {"api-secret-key", "broker-url", "result-backend-url"}


def test_the_plan_shows_which_role_may_publish_failed_dag_runs(dev_plan):
    from airflow_celery.plan import make_plan
    from tests.plan.conftest import PROJECT_DIR

    plan = make_plan(PROJECT_DIR, "dev", ("monitoring=true", "dagFailureNotifications=true"))
    where = {row.role: row.runs_on for row in plan.roles}
    assert where["dag-processor"] == (
        f"Fargate (IAM: sns:Publish on {plan.config.name}-alarms and its key's kms:GenerateDataKey*, kms:Decrypt, "
        "failed DAG runs)"
    )
    assert [role for role, text in where.items() if "sns:Publish" in text] == ["dag-processor"]
    assert "sns:Publish" not in " ".join(row.runs_on for row in dev_plan.roles)  # off by default
