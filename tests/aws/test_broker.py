"""The broker: Redis on Fargate (the default) or ElastiCache with TLS and an AUTH token."""

from __future__ import annotations

from airflow_celery.cluster.roles import REDIS
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


def test_fargate_mode_runs_a_redis_service_and_no_elasticache(dev):
    assert dev.of_type(GROUP) == []
    service = dev.one("aws:ecs/service:Service", f"{DEV_NAME}-redis-service")
    assert service.inputs["desiredCount"] == 1
    # One broker at a time: two behind the same DNS name would split the queue.
    assert service.inputs["deploymentMaximumPercent"] == 100
    container = dev.container_definitions(dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-redis-task"))
    assert [s["name"] for s in container[0]["secrets"]] == ["REDIS_PASSWORD"]


def test_elasticache_mode_has_tls_auth_and_no_redis_service(prod):
    group = prod.one(GROUP)
    inputs = group.inputs
    assert inputs["engine"] == "redis"
    assert inputs["engineVersion"].startswith("7.")
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["port"] == REDIS.port("redis").number
    assert inputs["numCacheClusters"] == 2
    assert inputs["automaticFailoverEnabled"] is True and inputs["multiAzEnabled"] is True
    token = prod.one("random:index/randomPassword:RandomPassword", f"{PROD_NAME}-redis-password").outputs["result"]
    assert inputs["authToken"] == token
    assert "authToken" in group.secret_inputs
    assert [s for s in prod.of_type("aws:ecs/service:Service") if s.name.endswith("-redis-service")] == []
    subnets = prod.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert sorted(subnets.inputs["subnetIds"]) == sorted(PROD_ARGS["private_subnet_ids"])
    assert inputs["subnetGroupName"] == subnets.outputs["name"]
