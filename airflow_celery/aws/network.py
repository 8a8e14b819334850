"""The VPC: a given one, or a new one across 2 availability zones with public and private subnets and NAT.

Zones are chosen by zone ID among those that offer every instance type the stack runs (the database class and
the ElastiCache node type, through their EC2 equivalents): names map to different zones in every account, and
not every zone has every Graviton type. One NAT gateway serves both zones unless `nat_per_zone`, which gives each
zone its own, so losing a zone leaves the other one its way out. The S3 gateway endpoint (free) is always there:
ECR serves image layers from S3, so image pulls do not cross a NAT gateway.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.aws import endpoints
from airflow_celery.aws.args import RedisMode, ResolvedArgs
from airflow_celery.aws.context import BuildContext

ZONE_COUNT = 2
ANYWHERE = "0.0.0.0/0"
_CLASS_PREFIXES = ("db.", "cache.")


class ZoneChoiceError(RuntimeError):
    """Fewer zones than needed offer every instance type of the stack."""


def ec2_equivalent(instance_class: str) -> str:
    """db.t4g.small / cache.t4g.small -> t4g.small: the EC2 type whose offerings stand for the class's."""
    for prefix in _CLASS_PREFIXES:
        if instance_class.startswith(prefix):
            return instance_class[len(prefix) :]
    return instance_class


def instance_types(config: ResolvedArgs) -> list[str]:
    """The EC2 types whose zone offerings the stack needs: the database's, and the ElastiCache nodes'."""
    types = [ec2_equivalent(config.db_instance_class)]
    if config.redis_mode == RedisMode.ELASTICACHE:
        types.append(ec2_equivalent(config.redis_node_type))
    return sorted(set(types))


def choose_zones(
    zone_ids: list[str], offered_types: list[str], offered_in: list[str], needed: list[str], count: int = ZONE_COUNT
) -> list[str]:
    """The first `count` zone IDs (in the region's order) where every `needed` type is offered.

    `offered_types[i]` is offered in zone `offered_in[i]` (the shape of DescribeInstanceTypeOfferings).
    """
    offers: dict[str, set[str]] = {}
    for instance_type, zone_id in zip(offered_types, offered_in, strict=True):
        offers.setdefault(zone_id, set()).add(instance_type)
    chosen = [zone for zone in zone_ids if set(needed) <= offers.get(zone, set())]
    if len(chosen) < count:
        raise ZoneChoiceError(
            f"only {len(chosen)} availability zone(s) ({', '.join(chosen) or 'none'}) of {', '.join(zone_ids)} offer "
            f"every instance type this stack needs ({', '.join(needed)}); {count} are needed: pick other "
            "db_instance_class / redis_node_type values, or another region"
        )
    return chosen[:count]


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
    zones = zone_ids(ctx)
    public_cidrs, private_cidrs = subnet_cidrs(ctx.config.vpc_cidr)
    public = [_subnet(ctx, vpc, zones, index, cidr, "public") for index, cidr in enumerate(public_cidrs)]
    private = [_subnet(ctx, vpc, zones, index, cidr, "private") for index, cidr in enumerate(private_cidrs)]
    nats = _internet_routes(ctx, vpc, public)
    private_tables = _private_routes(ctx, vpc, private, nats)
    endpoints.s3_gateway(ctx, vpc, private_tables)
    if ctx.config.interface_endpoints:
        endpoints.interface_endpoints(ctx, vpc, [s.id for s in private])
    return Network(vpc.id, [s.id for s in public], [s.id for s in private], [ctx.config.vpc_cidr])


def zone_ids(ctx: BuildContext) -> pulumi.Output[list[str]]:
    """ZONE_COUNT zone IDs, available without opting in, where every instance type of the stack is offered."""
    invoke = pulumi.InvokeOutputOptions(parent=ctx.parent)
    zones = aws.get_availability_zones_output(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=invoke,
    )
    needed = instance_types(ctx.config)
    offerings = aws.ec2.get_instance_type_offerings_output(
        location_type="availability-zone-id",
        filters=[aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="instance-type", values=needed)],
        opts=invoke,
    )
    return pulumi.Output.all(zones.zone_ids, offerings.instance_types, offerings.locations).apply(
        lambda found: choose_zones(found[0], found[1], found[2], needed)
    )


def _subnet(
    ctx: BuildContext, vpc: aws.ec2.Vpc, zones: pulumi.Output[list[str]], index: int, cidr: str, tier: str
) -> aws.ec2.Subnet:
    return aws.ec2.Subnet(
        ctx.child_name(f"{tier}-{index}"),
        vpc_id=vpc.id,
        cidr_block=cidr,
        availability_zone_id=zones.apply(lambda ids: ids[index]),
        map_public_ip_on_launch=False,
        tags=ctx.tags(f"{tier}-{index}"),
        opts=ctx.opts(),
    )


def _internet_routes(ctx: BuildContext, vpc: aws.ec2.Vpc, public: list[aws.ec2.Subnet]) -> list[aws.ec2.NatGateway]:
    """Internet gateway for the public subnets; a NAT gateway in the first (or, with nat_per_zone, each) of them."""
    gateway = aws.ec2.InternetGateway(ctx.child_name("igw"), vpc_id=vpc.id, tags=ctx.tags("igw"), opts=ctx.opts())
    _route_table(ctx, vpc, "public", list(enumerate(public)), gateway_id=gateway.id)
    zones = len(public) if ctx.config.nat_per_zone else 1
    return [_nat_gateway(ctx, gateway, public[index], zone_suffix(index)) for index in range(zones)]


def zone_suffix(index: int) -> str:
    """ "" for the first zone (the names a single NAT always had, so turning nat_per_zone on adds, never
    replaces), "-<index>" for the others."""
    return f"-{index}" if index else ""


def _nat_gateway(
    ctx: BuildContext, gateway: aws.ec2.InternetGateway, subnet: aws.ec2.Subnet, suffix: str
) -> aws.ec2.NatGateway:
    address = aws.ec2.Eip(
        ctx.child_name(f"nat-eip{suffix}"), domain="vpc", tags=ctx.tags(f"nat-eip{suffix}"), opts=ctx.opts()
    )
    return aws.ec2.NatGateway(
        ctx.child_name(f"nat{suffix}"),
        allocation_id=address.id,
        subnet_id=subnet.id,
        tags=ctx.tags(f"nat{suffix}"),
        opts=ctx.opts(depends_on=[gateway]),
    )


def _private_routes(
    ctx: BuildContext, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet], nats: list[aws.ec2.NatGateway]
) -> list[aws.ec2.RouteTable]:
    """One route table per NAT gateway: each private subnet leaves through its own zone's NAT when there is one."""
    if len(nats) == 1:
        return [_route_table(ctx, vpc, "private", list(enumerate(private)), nat_gateway_id=nats[0].id)]
    return [
        _route_table(ctx, vpc, f"private{zone_suffix(index)}", [(index, subnet)], nat_gateway_id=nats[index].id)
        for index, subnet in enumerate(private)
    ]


def _route_table(
    ctx: BuildContext,
    vpc: aws.ec2.Vpc,
    kind: str,
    subnets: list[tuple[int, aws.ec2.Subnet]],
    **default_target: pulumi.Input[str],
) -> aws.ec2.RouteTable:
    """A route table for `subnets` (with their zone index) whose default route (0.0.0.0/0) goes to
    `default_target`."""
    tier = kind.split("-")[0]
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
    for index, subnet in subnets:
        aws.ec2.RouteTableAssociation(
            ctx.child_name(f"{tier}-{index}-rta"), route_table_id=table.id, subnet_id=subnet.id, opts=ctx.opts()
        )
    return table
