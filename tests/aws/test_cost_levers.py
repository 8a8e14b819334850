"""The cost levers: Fargate Spot per role, ARM64 for every role, Container Insights off."""

from __future__ import annotations

import re

import botocore.session
import pytest

from airflow_celery.aws.args import SPOT_ROLES, ConfigError, resolve_args
from tests.aws import harness

SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture(scope="module")
def levers():
    return harness.build_component(
        "cheap",
        {
            "role_capacity": {name: "fargate-spot" for name in SPOT_ROLES},
            "cpu_architecture": "ARM64",
            "container_insights": False,
        },
    )


def _services(mocks, name):
    return {s.name.removeprefix(f"{name}-").removesuffix("-service"): s.inputs for s in mocks.of_type(SERVICE)}


def test_role_capacity_puts_each_named_service_on_spot(levers):
    services = _services(levers, "cheap")
    capacity = levers.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    for name in SPOT_ROLES:
        assert "launchType" not in services[name], name
        assert services[name]["capacityProviderStrategies"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert services["redis"]["launchType"] == "FARGATE"  # the broker stays on-demand
    # a strategy needs the providers on the cluster first: the Spot services depend on them
    assert capacity.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]


def test_by_default_every_service_but_the_workers_keeps_its_launch_type(dev):
    services = _services(dev, "airflow-dev")
    assert {name for name, s in services.items() if s.get("launchType") == "FARGATE"} == {*SPOT_ROLES, "redis"}


def test_arm64_runs_every_role_and_builds_the_image_for_it(levers):
    for task in levers.of_type(TASK):
        assert task.inputs["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert levers.one("docker:index/image:Image").inputs["build"]["platform"] == "linux/arm64"


def test_container_insights_can_be_turned_off(levers, dev):
    assert levers.one("aws:ecs/cluster:Cluster").inputs["settings"] == [
        {"name": "containerInsights", "value": "disabled"}
    ]
    assert dev.one("aws:ecs/cluster:Cluster").inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


@pytest.mark.parametrize(
    ("capacity", "key", "allowed"),
    [
        ({"worker": "fargate-spot"}, "role_capacity.worker", "set worker_capacity instead"),
        ({"redis": "fargate-spot"}, "role_capacity.redis", "a reclaimed broker loses its queue"),
        ({"scheduler": "spot"}, "role_capacity.scheduler", "one of fargate, fargate-spot"),
    ],
)
def test_role_capacity_refuses_what_it_cannot_do(capacity, key, allowed):
    with pytest.raises(ConfigError) as caught:
        resolve_args("x", {"role_capacity": capacity})
    assert caught.value.key == key and allowed in caught.value.allowed


def test_cpu_architecture_is_one_fargate_runs():
    with pytest.raises(ConfigError, match=r"cpu_architecture='arm64' .*X86_64, ARM64"):
        resolve_args("x", {"cpu_architecture": "arm64"})


def test_the_ecs_api_takes_both_architectures_and_spot_runs_arm64():
    """botocore's ecs model: CPUArchitecture is X86_64 or ARM64, and FARGATE_SPOT runs ARM64 Linux tasks on
    platform version 1.4.0 or later (CapacityProviderStrategyItem); the services use LATEST."""
    model = botocore.session.get_session().get_service_model("ecs")
    assert set(model.shape_for("CPUArchitecture").enum) >= {"X86_64", "ARM64"}
    documentation = re.sub(r"<[^>]+>", "", model.shape_for("CapacityProviderStrategyItem").documentation)
    assert "FARGATE_SPOT supports Linux tasks with the ARM64 architecture on platform version 1.4.0" in documentation
