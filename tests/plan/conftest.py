"""The dev and prod stack files planned once per session (each plan builds the component under mocks, ~2 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_celery.plan import Plan, make_plan
from tests.aws.harness import PLACEHOLDER_REPLACEMENTS

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROD_OVERRIDES = tuple(f"{key}={value}" for key, value in PLACEHOLDER_REPLACEMENTS["prod"].items())
"""What a user sets in place of Pulumi.prod.yaml's REPLACE placeholders, which the plan refuses like `pulumi up`."""


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    return make_plan(PROJECT_DIR, "dev")


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return make_plan(PROJECT_DIR, "prod", PROD_OVERRIDES)
