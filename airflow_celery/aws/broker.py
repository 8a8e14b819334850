"""The Celery broker: Redis as a Fargate service (found through Cloud Map) or an ElastiCache replication group."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import REDIS
from airflow_celery.cluster.secrets import BrokerEndpoint

REDIS_PORT = REDIS.port("redis").number
ELASTICACHE_ENGINE_VERSION = "7.1"
ELASTICACHE_NODES = 2


def fargate_endpoint(namespace: str) -> pulumi.Output[BrokerEndpoint]:
    """Redis as the `redis` service in the Cloud Map namespace (registered by the ECS service)."""
    return pulumi.Output.from_input(BrokerEndpoint(host=f"{REDIS.name}.{namespace}", port=REDIS_PORT, tls=False))


AUTH_TOKEN_UPDATE_STRATEGY = "ROTATE"
"""How a new AUTH token (a rotated redis-password secret) reaches the replication group: ROTATE adds it beside the
old one, so tasks started before the redeploy keep their broker until the services have rolled to the new URL. It is
AWS's default, named here so a plan shows it. botocore's elasticache model (ModifyReplicationGroup,
AuthTokenUpdateStrategy) allows SET, which retires the old token, "only after ROTATE", and the provider sends the
strategy only together with a changed token, so the old token cannot be retired from the same program: that is an
`aws elasticache modify-replication-group --auth-token-update-strategy SET` by hand (README, Secrets)."""


def elasticache(
    ctx: BuildContext,
    private_subnet_ids: list[pulumi.Input[str]],
    security_group: aws.ec2.SecurityGroup,
    auth_token: pulumi.Output[str],
) -> aws.elasticache.ReplicationGroup:
    """Redis 7 with TLS in transit, encryption at rest and an AUTH token: a primary and a replica in
    different availability zones with automatic failover, because a lost broker stops every task."""
    subnets = aws.elasticache.SubnetGroup(
        ctx.child_name("redis-subnets"),
        subnet_ids=private_subnet_ids,
        description=f"airflow-celery {ctx.name}: private subnets of the Celery broker",
        tags=ctx.tags("redis-subnets"),
        opts=ctx.opts(),
    )
    return aws.elasticache.ReplicationGroup(
        ctx.child_name("redis"),
        description=f"airflow-celery {ctx.name}: Celery broker",
        engine="redis",
        engine_version=ELASTICACHE_ENGINE_VERSION,
        node_type=ctx.config.redis_node_type,
        num_cache_clusters=ELASTICACHE_NODES,
        automatic_failover_enabled=True,
        multi_az_enabled=True,
        port=REDIS_PORT,
        subnet_group_name=subnets.name,
        security_group_ids=[security_group.id],
        transit_encryption_enabled=True,
        at_rest_encryption_enabled=True,
        auth_token=auth_token,
        auth_token_update_strategy=AUTH_TOKEN_UPDATE_STRATEGY,
        apply_immediately=ctx.config.apply_immediately,
        tags=ctx.tags("redis"),
        opts=ctx.opts(),
    )


def elasticache_endpoint(group: aws.elasticache.ReplicationGroup) -> pulumi.Output[BrokerEndpoint]:
    return group.primary_endpoint_address.apply(lambda host: BrokerEndpoint(host=host, port=REDIS_PORT, tls=True))
