"""Cloud Map: private DNS names for the api-server (workers' execution API) and Redis."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import API_SERVER, EXECUTION_API_PATH

DNS_TTL_SECONDS = 10


def namespace_name(component_name: str) -> str:
    """The private DNS domain; roles are reached as `<role>.<this>`."""
    return f"{component_name}.airflow.internal"


def execution_api_url(namespace: str) -> str:
    """Workers call the api-server inside the VPC, never through the public load balancer."""
    return f"http://{API_SERVER.name}.{namespace}:{API_SERVER.port('http').number}{EXECUTION_API_PATH}"


def private_namespace(ctx: BuildContext, vpc_id: pulumi.Input[str]) -> aws.servicediscovery.PrivateDnsNamespace:
    return aws.servicediscovery.PrivateDnsNamespace(
        ctx.child_name("namespace"),
        name=namespace_name(ctx.name),
        vpc=vpc_id,
        description=f"airflow-celery {ctx.name}: service discovery",
        tags=ctx.tags("namespace"),
        opts=ctx.opts(),
    )


def discovery_service(
    ctx: BuildContext, namespace: aws.servicediscovery.PrivateDnsNamespace, role_name: str
) -> aws.servicediscovery.Service:
    """`<role_name>.<namespace>`: A records the ECS service keeps up to date with its task IPs."""
    return aws.servicediscovery.Service(
        ctx.child_name(role_name, "discovery"),
        name=role_name,
        dns_config=aws.servicediscovery.ServiceDnsConfigArgs(
            namespace_id=namespace.id,
            dns_records=[aws.servicediscovery.ServiceDnsConfigDnsRecordArgs(ttl=DNS_TTL_SECONDS, type="A")],
            routing_policy="MULTIVALUE",
        ),
        health_check_custom_config=aws.servicediscovery.ServiceHealthCheckCustomConfigArgs(),
        force_destroy=True,
        tags=ctx.tags(role_name, "discovery"),
        opts=ctx.opts(),
    )
