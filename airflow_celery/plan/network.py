"""Who may reach whom on which port, and why (the description's edges); and what the internet can reach."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.offline import RecordingMocks
from airflow_celery.aws.security_groups import ingress_rules, unused_edges

INGRESS_TYPE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


@dataclass(frozen=True)
class Reach:
    """`source` (a security group, or a CIDR block) may open TCP connections to `target` on `port`."""

    source: str
    target: str
    port: int
    why: str
    from_internet: bool


@dataclass(frozen=True)
class Network:
    matrix: list[Reach]
    public: list[str]
    """Facts about what is reachable from outside the VPC, read from the registered resources."""


def describe(mocks: RecordingMocks, config: ResolvedArgs) -> Network:
    matrix = [
        Reach(rule.source or rule.cidr or "?", rule.target, rule.port, rule.description, rule.cidr is not None)
        for rule in ingress_rules(config.load_balancer_cidrs, unused_edges(config))
    ]
    return Network(matrix=matrix, public=_public_facts(mocks))


def _public_facts(mocks: RecordingMocks) -> list[str]:
    facts = []
    for rule in mocks.of_type(INGRESS_TYPE):
        cidr = rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6")
        if cidr:
            facts.append(f"load balancer port {int(rule.inputs['fromPort'])} is open to {cidr}")
    for balancer in mocks.of_type("aws:lb/loadBalancer:LoadBalancer"):
        where = "internal" if balancer.inputs.get("internal") else "internet-facing"
        tier = "private" if balancer.inputs.get("internal") else "public"
        facts.append(f"the load balancer is {where}, in {len(balancer.inputs.get('subnets', []))} {tier} subnets")
    public_tasks = [
        service.name
        for service in mocks.of_type("aws:ecs/service:Service")
        if service.inputs.get("networkConfiguration", {}).get("assignPublicIp")
    ]
    facts.append(f"tasks with a public IP: {', '.join(public_tasks) or 'none'} (all run in private subnets)")
    for database in mocks.of_type("aws:rds/instance:Instance"):
        facts.append(f"the database is {'PUBLICLY' if database.inputs.get('publiclyAccessible') else 'not'} "
                     "publicly accessible")  # fmt: skip
    return facts
