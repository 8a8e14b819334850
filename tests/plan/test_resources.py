"""Resources come from the component run under mocks, each type in a concern."""

from __future__ import annotations

import pytest

from airflow_celery.plan.resources import CONCERNS, OTHER, concern_of, group
from tests.aws import harness
from tests.aws.conftest import VARIANT_ARGS


def test_dev_plan_lists_what_the_component_registers(dev_plan):
    groups = dev_plan.resources.by_concern

    assert list(groups) == list(CONCERNS)
    assert groups["network"]["aws:ec2/natGateway:NatGateway"] == 1
    assert groups["network"]["aws:ec2/vpc:Vpc"] == 1
    assert groups["ECS"]["aws:ecs/service:Service"] == 7  # six Airflow services and Redis
    assert groups["database"]["aws:rds/instance:Instance"] == 1
    # Redis runs as an ECS service in dev; its append-only file lives on EFS (one mount target per private subnet).
    assert groups["broker"] == {
        "aws:efs/fileSystem:FileSystem": 1,
        "aws:efs/accessPoint:AccessPoint": 1,
        "aws:efs/mountTarget:MountTarget": 2,
        "aws:efs/fileSystemPolicy:FileSystemPolicy": 1,
    }
    assert groups["ECS"]["aws:lambda/invocation:Invocation"] == 1  # the migrate step
    assert groups["image"]["docker:index/image:Image"] == 1
    assert dev_plan.resources.total == len(dev_plan.mocks.records) - 1  # all but the component itself


def test_prod_plan_has_elasticache_and_no_redis_service(prod_plan):
    groups = prod_plan.resources.by_concern

    assert groups["broker"]["aws:elasticache/replicationGroup:ReplicationGroup"] == 1
    assert groups["ECS"]["aws:ecs/service:Service"] == 6
    assert groups["load balancer"]["aws:lb/listener:Listener"] == 2  # HTTPS, and HTTP redirecting to it


@pytest.mark.parametrize("args", [{}, VARIANT_ARGS], ids=["dev-defaults", "variant"])
def test_every_registered_type_has_a_concern(args, dev_plan, prod_plan):
    for mocks in (harness.build_component("airflow-x", args), dev_plan.mocks, prod_plan.mocks):
        assert OTHER not in group(mocks).by_concern, {r.type for r in mocks.records if concern_of(r.type) == OTHER}


def test_scaling_types_are_ready_for_autoscaling():
    assert concern_of("aws:appautoscaling/target:Target") == "scaling"
    assert concern_of("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders") == "scaling"
    assert concern_of("aws:ecs/service:Service") == "ECS"
