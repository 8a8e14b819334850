"""VPC endpoints: the S3 gateway (free, always) and, as an option, interface endpoints for what every task start
needs (ECR, Secrets Manager, CloudWatch Logs), so those calls stay inside the VPC and off the NAT gateways.

With the interface endpoints, a task can start while no NAT gateway works at all; they cost per zone and hour
(the plan prices them), which is why they are an option.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext

HTTPS = 443
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "secretsmanager", "logs")
"""What ECS needs to start a Fargate task from a private ECR image with Secrets Manager secrets and the awslogs
driver, with no route to the internet (AWS docs, ECR "Interface VPC endpoints (AWS PrivateLink)": ecr.api,
ecr.dkr and the S3 gateway for the layers; ECS "Fargate task networking": secretsmanager, logs)."""


def service_name(service: str, region: str) -> str:
    return f"com.amazonaws.{region}.{service}"


def _region(ctx: BuildContext) -> pulumi.Output[str]:
    return aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent)).region


def s3_gateway(ctx: BuildContext, vpc: aws.ec2.Vpc, route_tables: list[aws.ec2.RouteTable]) -> aws.ec2.VpcEndpoint:
    """S3 through the private route tables: image layers (ECR keeps them in S3) and task logs skip the NAT."""
    return aws.ec2.VpcEndpoint(
        ctx.child_name("s3-endpoint"),
        vpc_id=vpc.id,
        service_name=_region(ctx).apply(lambda region: service_name("s3", region)),
        vpc_endpoint_type="Gateway",
        route_table_ids=[table.id for table in route_tables],
        tags=ctx.tags("s3-endpoint"),
        opts=ctx.opts(),
    )


def interface_endpoints(
    ctx: BuildContext, vpc: aws.ec2.Vpc, private_subnet_ids: list[pulumi.Input[str]]
) -> list[aws.ec2.VpcEndpoint]:
    """One interface endpoint per INTERFACE_SERVICES, in every private subnet, with private DNS: the tasks keep
    using the public service names, which now resolve to addresses inside the VPC."""
    group = aws.ec2.SecurityGroup(
        ctx.child_name("endpoints-sg"),
        vpc_id=vpc.id,
        description=f"airflow-celery {ctx.name}: interface endpoints, HTTPS from inside the VPC",
        revoke_rules_on_delete=True,
        tags=ctx.tags("endpoints-sg"),
        opts=ctx.opts(),
    )
    aws.vpc.SecurityGroupIngressRule(
        ctx.child_name("endpoints-from-vpc-443"),
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        cidr_ipv4=vpc.cidr_block,
        description="tasks call ECR, Secrets Manager and CloudWatch Logs",
        tags=ctx.tags("endpoints-from-vpc-443"),
        opts=ctx.opts(),
    )
    region = _region(ctx)
    return [
        aws.ec2.VpcEndpoint(
            ctx.child_name(f"{service.replace('.', '-')}-endpoint"),
            vpc_id=vpc.id,
            service_name=region.apply(lambda name, service=service: service_name(service, name)),
            vpc_endpoint_type="Interface",
            subnet_ids=private_subnet_ids,
            security_group_ids=[group.id],
            private_dns_enabled=True,
            tags=ctx.tags(f"{service.replace('.', '-')}-endpoint"),
            opts=ctx.opts(),
        )
        for service in INTERFACE_SERVICES
    ]
