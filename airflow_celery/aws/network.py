"""The VPC: a given one, or a new one across 2 availability zones with public and private subnets and NAT."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext

ZONE_COUNT = 2
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Network:
    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Input[str]]
    """For the load balancer."""
    private_subnet_ids: list[pulumi.Input[str]]
    """For the tasks, the database and Redis; no public IPs there."""
    cidrs: pulumi.Input[list[str]]
    """The VPC's address ranges: where the load balancer's nodes (and every task) have their addresses."""


def subnet_cidrs(vpc_cidr: str, zones: int = ZONE_COUNT) -> tuple[list[str], list[str]]:
    """Split the VPC into 2*zones equal subnets: the first `zones` public, the rest private."""
    network = ipaddress.ip_network(vpc_cidr)
    extra_bits = (2 * zones - 1).bit_length()
    subnets = [str(subnet) for subnet in network.subnets(prefixlen_diff=extra_bits)][: 2 * zones]
    return subnets[:zones], subnets[zones:]


def network(ctx: BuildContext) -> Network:
    config = ctx.config
    if config.vpc_id:
        vpc = aws.ec2.get_vpc_output(id=config.vpc_id, opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
        cidrs = vpc.cidr_block_associations.apply(lambda blocks: sorted(block.cidr_block for block in blocks))
        return Network(config.vpc_id, list(config.public_subnet_ids), list(config.private_subnet_ids), cidrs)
    return _create_vpc(ctx)


def _create_vpc(ctx: BuildContext) -> Network:
    vpc = aws.ec2.Vpc(
        ctx.child_name("vpc"),
        cidr_block=ctx.config.vpc_cidr,
        enable_dns_hostnames=True,  # Cloud Map private DNS and RDS endpoints resolve inside the VPC
        enable_dns_support=True,
        tags=ctx.tags("vpc"),
        opts=ctx.opts(),
    )
    zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    public_cidrs, private_cidrs = subnet_cidrs(ctx.config.vpc_cidr)
    public = [_subnet(ctx, vpc, zones, index, cidr, "public") for index, cidr in enumerate(public_cidrs)]
    private = [_subnet(ctx, vpc, zones, index, cidr, "private") for index, cidr in enumerate(private_cidrs)]
    nat = _internet_routes(ctx, vpc, public)
    _route_table(ctx, vpc, "private", private, nat_gateway_id=nat.id)
    return Network(vpc.id, [s.id for s in public], [s.id for s in private], [ctx.config.vpc_cidr])


def _subnet(
    ctx: BuildContext, vpc: aws.ec2.Vpc, zones: pulumi.Output, index: int, cidr: str, tier: str
) -> aws.ec2.Subnet:
    return aws.ec2.Subnet(
        ctx.child_name(f"{tier}-{index}"),
        vpc_id=vpc.id,
        cidr_block=cidr,
        availability_zone=zones.names.apply(lambda names: names[index]),
        map_public_ip_on_launch=False,
        tags=ctx.tags(f"{tier}-{index}"),
        opts=ctx.opts(),
    )


def _internet_routes(ctx: BuildContext, vpc: aws.ec2.Vpc, public: list[aws.ec2.Subnet]) -> aws.ec2.NatGateway:
    """Internet gateway for the public subnets, and one NAT gateway there for the private ones."""
    gateway = aws.ec2.InternetGateway(ctx.child_name("igw"), vpc_id=vpc.id, tags=ctx.tags("igw"), opts=ctx.opts())
    _route_table(ctx, vpc, "public", public, gateway_id=gateway.id)
    address = aws.ec2.Eip(ctx.child_name("nat-eip"), domain="vpc", tags=ctx.tags("nat-eip"), opts=ctx.opts())
    return aws.ec2.NatGateway(
        ctx.child_name("nat"),
        allocation_id=address.id,
        subnet_id=public[0].id,
        tags=ctx.tags("nat"),
        opts=ctx.opts(depends_on=[gateway]),
    )


def _route_table(
    ctx: BuildContext, vpc: aws.ec2.Vpc, kind: str, subnets: list[aws.ec2.Subnet], **default_target: pulumi.Input[str]
) -> None:
    """A route table for `subnets` whose default route (0.0.0.0/0) goes to `default_target`."""
    table = aws.ec2.RouteTable(
        ctx.child_name(f"{kind}-rt"), vpc_id=vpc.id, tags=ctx.tags(f"{kind}-rt"), opts=ctx.opts()
    )
    aws.ec2.Route(
        ctx.child_name(f"{kind}-default"),
        route_table_id=table.id,
        destination_cidr_block=ANYWHERE,
        opts=ctx.opts(),
        **default_target,
    )
    for index, subnet in enumerate(subnets):
        aws.ec2.RouteTableAssociation(
            ctx.child_name(f"{kind}-{index}-rta"), route_table_id=table.id, subnet_id=subnet.id, opts=ctx.opts()
        )
