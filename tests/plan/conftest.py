"""The dev and prod stack files planned once per run (each plan builds the component under mocks; under xdist one
process of the run plans each: tests/once_per_run.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_celery.plan import Plan, make_plan
from tests.aws.harness import PLACEHOLDER_REPLACEMENTS
from tests.once_per_run import once_per_run

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROD_OVERRIDES = tuple(f"{key}={value}" for key, value in PLACEHOLDER_REPLACEMENTS["prod"].items())
"""What a user sets in place of Pulumi.prod.yaml's REPLACE placeholders, which the plan refuses like `pulumi up`."""


@pytest.fixture(scope="session")
def dev_plan(tmp_path_factory) -> Plan:
    return once_per_run(tmp_path_factory, "dev-plan", lambda: make_plan(PROJECT_DIR, "dev"))


@pytest.fixture(scope="session")
def prod_plan(tmp_path_factory) -> Plan:
    return once_per_run(tmp_path_factory, "prod-plan", lambda: make_plan(PROJECT_DIR, "prod", PROD_OVERRIDES))
