"""A deploy that fails fails `pulumi up`: steady-state waits with derived timeouts, no rollback behind Pulumi's
back, and capacity provider strategy changes that ECS actually applies."""

from __future__ import annotations

import json

import pytest

from airflow_celery.aws import ecs
from airflow_celery.cluster.drain import DRAIN_PROTECTION_CAP
from airflow_celery.cluster.roles import STARTUP_DEADLINE, WORKER
from tests.aws import harness
from tests.aws.conftest import DEV_NAME

SERVICE = "aws:ecs/service:Service"
BIG_DB = {"db_instance_class": "db.t4g.medium"}  # two always-on workers need more connections than dev's class


def test_every_service_waits_for_steady_state_within_the_derived_timeout(built):
    """Workers also get the drain cap: a superseded worker stays protected (ECS does not stop it) while it finishes
    its tasks, up to DRAIN_PROTECTION_CAP, and the deployment is steady only once it has gone."""
    for service in built.of_type(SERVICE):
        seconds = ecs.DEPLOY_TIMEOUT + (DRAIN_PROTECTION_CAP if service.name.endswith("-worker-service") else 0)
        minutes = f"{-(-int(seconds) // 60)}m"
        assert service.inputs["waitForSteadyState"] is True, service.name
        assert service.custom_timeouts == {"create": minutes, "update": minutes, "delete": minutes}, service.name


def test_the_deploy_timeout_covers_three_failed_tasks_and_a_drain():
    """The circuit breaker needs 3 failed tasks (one at a time with one task), each launched and given its whole
    start-up deadline; then old workers get their stop timeout and targets their deregistration delay."""
    per_task = ecs.TASK_LAUNCH_SECONDS + STARTUP_DEADLINE
    assert 3 * per_task + WORKER.stop_timeout + ecs.DEREGISTRATION_DELAY == ecs.DEPLOY_TIMEOUT
    assert ecs.DEPLOY_TIMEOUT < 20 * 60 * 2  # above Terraform's 20 min default, within 40 min


def _worker(mocks) -> dict:
    (service,) = [s for s in mocks.of_type(SERVICE) if s.name.endswith("-worker-service")]
    return service.inputs


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"worker_capacity": "mixed", "worker_min_count": 1, "worker_max_count": 2, **BIG_DB},
         {"worker_capacity": "mixed", "worker_min_count": 2, "worker_max_count": 2, **BIG_DB}),
        ({"worker_capacity": "fargate"}, {"worker_capacity": "fargate-spot"}),
    ],
    ids=["on-demand-base", "capacity"],
)  # fmt: skip
def test_a_capacity_provider_strategy_change_forces_a_new_deployment(before, after):
    """The installed pulumi-aws (ecs/service.py): capacity_provider_strategies "Updating this argument requires
    `force_new_deployment = true`", and force_new_deployment needs `triggers`. The trigger follows the strategy."""
    old, new = _worker(harness.build_component(DEV_NAME, before)), _worker(harness.build_component(DEV_NAME, after))
    for inputs in (old, new):
        assert inputs["forceNewDeployment"] is True
        assert "launchType" not in inputs
        strategy = json.loads(inputs["triggers"]["capacity-provider-strategy"])
        assert [(s["provider"], s["base"], s["weight"]) for s in strategy] == [
            (s["capacityProvider"], s.get("base", 0), s.get("weight", 0)) for s in inputs["capacityProviderStrategies"]
        ]
    assert old["capacityProviderStrategies"] != new["capacityProviderStrategies"]
    assert old["triggers"] != new["triggers"]


def test_a_worker_service_once_deployed_with_launch_type_moves_to_the_strategy_with_a_new_deployment(dev):
    """Earlier stacks ran workers with `launch_type = FARGATE`: the update onto capacity providers is the same kind
    of change, and the same forced deployment applies it (the trigger is new, so the update carries it)."""
    worker = _worker(dev)
    assert worker["forceNewDeployment"] is True and "launchType" not in worker
    assert worker["triggers"]["capacity-provider-strategy"]


def test_only_the_worker_service_forces_new_deployments(built):
    """Other services never change placement: forcing would redeploy them on every count change."""
    for service in built.of_type(SERVICE):
        if not service.name.endswith("-worker-service"):
            assert "forceNewDeployment" not in service.inputs and "triggers" not in service.inputs, service.name
            assert service.inputs["launchType"] == "FARGATE"
