"""The plan reads the stack files as the Pulumi CLI does and refuses what `pulumi up` would refuse, word for word."""

from __future__ import annotations

import pytest

from airflow_celery.aws.args import ConfigError
from airflow_celery.plan import PlanError, make_plan
from airflow_celery.plan.stack import parse_overrides, read_stack
from tests.aws import harness
from tests.plan.conftest import PROD_OVERRIDES, PROJECT_DIR

PROGRAM = PROJECT_DIR / "__main__.py"


def test_stack_file_values_and_overrides_reach_the_arguments():
    stack = read_stack(PROJECT_DIR, "dev", ("workerCount=2", "workerMaxCount=2", "airflow-celery:workerConcurrency=8"))

    assert stack.region == "us-east-1"
    assert stack.name == "airflow-dev"
    assert (stack.config.worker_count, stack.config.worker_concurrency) == (2, 8)
    assert stack.config.log_retention_days == 7  # from Pulumi.dev.yaml


def test_overrides_are_yaml_values_namespaced_to_the_project():
    assert parse_overrides(("workerCount=3", "aws:region=eu-west-1", "tags={team: data}")) == {
        "airflow-celery:workerCount": 3,
        "aws:region": "eu-west-1",
        "airflow-celery:tags": {"team": "data"},
    }
    with pytest.raises(PlanError, match="expected KEY=VALUE"):
        parse_overrides(("workerCount",))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        pytest.param({"workerConcurrency": 999}, "airflow-celery:workerConcurrency", id="out-of-range"),
        pytest.param({"redisMode": "memcached"}, "airflow-celery:redisMode", id="not-a-choice"),
        pytest.param({"wokerCount": 2}, "airflow-celery:wokerCount", id="unknown-key"),
    ],
)
def test_a_bad_value_gives_the_programs_own_error(overrides, key):
    """Same code, same message: what `pulumi up` (the root __main__.py) raises is what the plan prints."""
    with pytest.raises(ConfigError) as program_error:
        harness.run_program(PROGRAM, "dev", harness.stack_engine_config("dev", overrides))
    with pytest.raises(ConfigError) as plan_error:
        make_plan(PROJECT_DIR, "dev", tuple(f"{k}={v}" for k, v in overrides.items()))

    assert plan_error.value.key == key
    assert str(plan_error.value) == str(program_error.value)


def test_prod_as_shipped_is_refused_like_pulumi_up():
    with pytest.raises(ConfigError, match="replace it in the stack file") as caught:
        make_plan(PROJECT_DIR, "prod")

    assert caught.value.key == "airflow-celery:certificateArn"
    assert read_stack(PROJECT_DIR, "prod", PROD_OVERRIDES).config.db_multi_az is True


def test_a_value_of_the_wrong_declared_type_is_refused_as_the_cli_would():
    with pytest.raises(PlanError, match="configuration key 'workerCount' must be of type 'integer'"):
        make_plan(PROJECT_DIR, "dev", ("workerCount=abc",))


def test_a_missing_stack_file_names_the_path(tmp_path):
    with pytest.raises(PlanError, match=r"Pulumi\.yaml does not exist"):
        make_plan(tmp_path, "dev")
    with pytest.raises(PlanError, match=r"Pulumi\.staging\.yaml does not exist"):
        make_plan(PROJECT_DIR, "staging")
