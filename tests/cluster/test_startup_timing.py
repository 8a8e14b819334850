"""Start-up timing: the entrypoint's waits fit inside what ECS, the load balancer and compose allow.

ECS kills a container that is not healthy `startPeriod + interval x retries` after it starts; the load balancer
counts failures once the service's grace period is over. The entrypoint may first wait for its dependencies and
then for `airflow db check-migrations`. All of these come from roles.py's start-up timing.
"""

from __future__ import annotations

import re

import botocore.session
import pytest

from airflow_celery.cluster.roles import (
    BOOT_SECONDS,
    ECS_MAX_START_PERIOD,
    ROLES,
    STARTUP_DEADLINE,
    WAIT_BUDGET,
    Kind,
)
from airflow_celery.compose import render_compose
from tests.cluster_settings import settings_with

CHECKED = [r for r in ROLES if r.health is not None]


def test_the_ecs_limit_is_botocores():
    """botocore's ecs model, HealthCheck.startPeriod: "You can specify between 0 and 300 seconds"."""
    model = botocore.session.get_session().get_service_model("ecs")
    text = model.shape_for("HealthCheck").members["startPeriod"].documentation

    assert re.search(rf"between 0 and {ECS_MAX_START_PERIOD} seconds", text)


@pytest.mark.parametrize("r", CHECKED, ids=lambda r: r.name)
def test_each_check_allows_the_whole_wait_and_the_boot(r):
    check = r.health

    assert check.start_period <= ECS_MAX_START_PERIOD
    assert check.deadline == check.start_period + check.interval * check.retries == STARTUP_DEADLINE
    if r.kind is Kind.AIRFLOW:
        assert settings_with(execution_api_url="x").wait_timeout + BOOT_SECONDS <= check.deadline


def test_the_wait_budget_covers_what_was_too_short_before():
    """The bug: ECS gave up ~210 s after start while the entrypoint could wait 300 + 300 s."""
    assert WAIT_BUDGET == STARTUP_DEADLINE - BOOT_SECONDS
    assert STARTUP_DEADLINE > 210


def test_compose_uses_the_same_start_period_and_wait():
    services = render_compose()["services"]

    for r in (r for r in CHECKED if r.kind is not Kind.SIDECAR):  # compose runs no autoscaler
        assert services[r.name]["healthcheck"]["start_period"] == f"{r.health.start_period}s", r.name
    assert services["worker"]["environment"]["AIRFLOW_CELERY_WAIT_TIMEOUT"] == str(WAIT_BUDGET)
