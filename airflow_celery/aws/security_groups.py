"""One security group per role plus the load balancer's; ingress comes only from the cluster's EDGES."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.edges import BROKER_STORAGE, EDGES, INTERNET, LOAD_BALANCER, Edge, edges_from
from airflow_celery.cluster.roles import FLOWER, ROLES, Kind, role

# Every role that runs in its own task (or is RDS/ElastiCache) has a group, migrate's one-off task too; a sidecar
# uses its host task's. The broker's storage (EFS) has one when Redis runs on Fargate.
SECURITY_GROUP_NODES: tuple[str, ...] = (
    *(r.name for r in ROLES if r.runs_with is None),
    LOAD_BALANCER,
    BROKER_STORAGE,
)
# Groups of Fargate tasks (and Redis, a task unless it is ElastiCache) reach ECR, Secrets Manager, S3 and
# CloudWatch through the NAT: they get open egress. The database opens no connection and gets no egress at
# all; the load balancer gets egress only along its edges (an aws.ec2.SecurityGroup is created without AWS's default
# allow-all egress rule: the provider deletes it).
OPEN_EGRESS_NODES: tuple[str, ...] = tuple(r.name for r in ROLES if r.kind in (Kind.AIRFLOW, Kind.BROKER, Kind.JOB))


@dataclass(frozen=True)
class IngressRule:
    """Traffic into `target`'s group on `port`, from `source`'s group or from `cidr`."""

    target: str
    port: int
    description: str
    source: str | None = None
    cidr: str | None = None

    @property
    def resource_suffix(self) -> str:
        origin = self.source or _slug(self.cidr or "")
        return f"{self.target}-from-{origin}-{self.port}"


def _slug(cidr: str) -> str:
    return cidr.replace(".", "-").replace("/", "-").replace(":", "-")


def security_group_of(node: str) -> str:
    """The node whose security group `node` uses: a sidecar runs in the task of its `runs_with` role."""
    if node in (INTERNET, LOAD_BALANCER, BROKER_STORAGE):
        return node
    found = role(node)
    return found.runs_with or found.name


def unused_edges(config: ResolvedArgs) -> frozenset[tuple[str, str]]:
    """(source, target) edges of the description that this stack leaves closed: the load balancer -> Flower unless
    Flower is served there (flower_on_load_balancer)."""
    return frozenset() if config.flower_on_load_balancer else frozenset({(LOAD_BALANCER, FLOWER.name)})


def ingress_rules(allowed_cidrs: Sequence[str], closed: frozenset[tuple[str, str]] = frozenset()) -> list[IngressRule]:
    """The rules EDGES imply: one per distinct (source group, target group, port); internet edges per CIDR."""
    rules: dict[tuple[str, str, int], list[str]] = {}
    for edge in EDGES:
        if (edge.source, edge.target) in closed:
            continue
        for origin in _origins(edge, allowed_cidrs):
            key = (origin, security_group_of(edge.target), edge.port_number)
            rules.setdefault(key, [])
            if edge.why not in rules[key]:
                rules[key].append(edge.why)
    return [
        _rule(origin, target, port, whys, from_cidr=_is_cidr(origin)) for (origin, target, port), whys in rules.items()
    ]


def _origins(edge: Edge, allowed_cidrs: Sequence[str]) -> list[str]:
    return list(allowed_cidrs) if edge.source == INTERNET else [security_group_of(edge.source)]


def _is_cidr(origin: str) -> bool:
    try:
        ipaddress.ip_network(origin)
    except ValueError:
        return False
    return True


def _rule(origin: str, target: str, port: int, whys: list[str], *, from_cidr: bool) -> IngressRule:
    description = "; ".join(whys)[:255]
    if from_cidr:
        return IngressRule(target=target, port=port, description=description, cidr=origin)
    return IngressRule(target=target, port=port, description=description, source=origin)


def security_groups(ctx: BuildContext, vpc_id: pulumi.Input[str]) -> dict[str, aws.ec2.SecurityGroup]:
    """The groups, keyed by node name, with their ingress rules from EDGES and allow-all egress."""
    nodes = [node for node in SECURITY_GROUP_NODES if node != BROKER_STORAGE or ctx.config.redis_mode == "fargate"]
    groups = {node: _group(ctx, vpc_id, node) for node in nodes}
    closed = unused_edges(ctx.config)
    for rule in ingress_rules(ctx.config.load_balancer_cidrs, closed):
        if rule.target in groups and (rule.source is None or rule.source in groups):
            _ingress(ctx, groups, rule)
    for node, group in groups.items():
        if node in OPEN_EGRESS_NODES:
            _egress_anywhere(ctx, node, group)
    for edge in edges_from(LOAD_BALANCER):
        if (edge.source, edge.target) not in closed:
            _egress_to(ctx, groups, LOAD_BALANCER, edge)
    return groups


def _group(ctx: BuildContext, vpc_id: pulumi.Input[str], node: str) -> aws.ec2.SecurityGroup:
    return aws.ec2.SecurityGroup(
        ctx.child_name(node, "sg"),
        vpc_id=vpc_id,
        description=f"airflow-celery {ctx.name}: {node}",
        revoke_rules_on_delete=True,
        tags=ctx.tags(node, "sg"),
        opts=ctx.opts(),
    )


def _ingress(ctx: BuildContext, groups: dict[str, aws.ec2.SecurityGroup], rule: IngressRule) -> None:
    origin: dict[str, pulumi.Input[str]] = {}
    if rule.source is not None:
        origin["referenced_security_group_id"] = groups[rule.source].id
    elif rule.cidr and ipaddress.ip_network(rule.cidr).version == 6:
        origin["cidr_ipv6"] = rule.cidr
    else:
        origin["cidr_ipv4"] = rule.cidr
    aws.vpc.SecurityGroupIngressRule(
        ctx.child_name(rule.resource_suffix),
        security_group_id=groups[rule.target].id,
        ip_protocol="tcp",
        from_port=rule.port,
        to_port=rule.port,
        description=rule.description,
        tags=ctx.tags(rule.resource_suffix),
        opts=ctx.opts(),
        **origin,
    )


def _egress_to(ctx: BuildContext, groups: dict[str, aws.ec2.SecurityGroup], source: str, edge: Edge) -> None:
    """Egress that exactly mirrors an edge: the load balancer only ever opens connections to its targets."""
    target = security_group_of(edge.target)
    aws.vpc.SecurityGroupEgressRule(
        ctx.child_name(source, "to", target, str(edge.port_number)),
        security_group_id=groups[source].id,
        referenced_security_group_id=groups[target].id,
        ip_protocol="tcp",
        from_port=edge.port_number,
        to_port=edge.port_number,
        description=edge.why,
        tags=ctx.tags(source, "to", target),
        opts=ctx.opts(),
    )


def _egress_anywhere(ctx: BuildContext, node: str, group: aws.ec2.SecurityGroup) -> None:
    """Allow all egress: tasks pull from ECR and read Secrets Manager, S3 and CloudWatch Logs."""
    aws.vpc.SecurityGroupEgressRule(
        ctx.child_name(node, "egress"),
        security_group_id=group.id,
        ip_protocol="-1",
        cidr_ipv4="0.0.0.0/0",
        description="tasks reach ECR, Secrets Manager, S3 and CloudWatch Logs",
        tags=ctx.tags(node, "egress"),
        opts=ctx.opts(),
    )
