"""Security groups: ingress exactly as EDGES say, group to group; only the load balancer is open to CIDRs."""

from __future__ import annotations

import pytest

from airflow_celery.aws.security_groups import SECURITY_GROUP_NODES, ingress_rules, security_group_of
from airflow_celery.cluster.edges import BROKER_STORAGE, EDGES, INTERNET, LOAD_BALANCER
from airflow_celery.cluster.roles import ROLES_BY_NAME
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EXPECTED_GROUPS = {
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
    "flower",
    "redis",
    "postgres",
    "migrate",
    LOAD_BALANCER,
}
"""Every group both stacks have; with Redis on Fargate, its EFS storage has one too."""


def _node_of_group(mocks: harness.RecordingMocks, cluster: str) -> dict[str, str]:
    """Security group id -> the node it belongs to, from the group's resource name."""
    return {g.id: g.name.removeprefix(f"{cluster}-").removesuffix("-sg") for g in mocks.of_type(SG)}


def _expected_rules(
    allowed_cidrs: list[str], flower_on_load_balancer: bool, fargate_redis: bool
) -> set[tuple[str, str, int]]:
    """(source node or CIDR, target node, port), derived here directly from EDGES; the load balancer reaches Flower
    only when it serves it, and the broker's storage exists only for a Fargate Redis."""
    expected = set()
    for edge in EDGES:
        if (edge.source, edge.target) == (LOAD_BALANCER, "flower") and not flower_on_load_balancer:
            continue
        if edge.target == BROKER_STORAGE and not fargate_redis:
            continue
        target_role = ROLES_BY_NAME.get(edge.target)
        target = (target_role.runs_with or target_role.name) if target_role else edge.target
        if edge.source == INTERNET:
            expected |= {(cidr, target, edge.port_number) for cidr in allowed_cidrs}
            continue
        source_role = ROLES_BY_NAME.get(edge.source)
        source = (source_role.runs_with or source_role.name) if source_role else edge.source
        expected.add((source, target, edge.port_number))
    return expected


def _recorded_rules(mocks: harness.RecordingMocks, cluster: str) -> list[tuple[str, str, int]]:
    nodes = _node_of_group(mocks, cluster)
    rules = []
    for rule in mocks.of_type(INGRESS):
        inputs = rule.inputs
        assert inputs["fromPort"] == inputs["toPort"]
        assert inputs["ipProtocol"] == "tcp"
        source = nodes[inputs["referencedSecurityGroupId"]] if "referencedSecurityGroupId" in inputs else None
        origin = source or inputs.get("cidrIpv4") or inputs.get("cidrIpv6")
        rules.append((origin, nodes[inputs["securityGroupId"]], int(inputs["toPort"])))
    return rules


def test_one_group_per_role_and_one_for_the_load_balancer(built):
    (component,) = built.components
    storage = {BROKER_STORAGE} if built.of_type("aws:efs/fileSystem:FileSystem") else set()
    assert set(_node_of_group(built, component.name).values()) == EXPECTED_GROUPS | storage
    assert set(SECURITY_GROUP_NODES) == EXPECTED_GROUPS | {BROKER_STORAGE}


@pytest.mark.parametrize(
    ("fixture", "cluster", "cidrs"),
    [("dev", DEV_NAME, ["10.0.0.0/16"]), ("prod", PROD_NAME, PROD_ARGS["allowed_cidrs"])],
)
def test_ingress_rules_are_exactly_the_edges(request, fixture, cluster, cidrs):
    """dev names nobody: only its VPC's own range reaches the (internal) load balancer, never 0.0.0.0/0."""
    mocks = request.getfixturevalue(fixture)
    recorded = _recorded_rules(mocks, cluster)
    assert len(recorded) == len(set(recorded)), "one rule per distinct (source, target, port)"
    fargate_redis = bool(mocks.of_type("aws:efs/fileSystem:FileSystem"))
    assert set(recorded) == _expected_rules(
        cidrs, flower_on_load_balancer=fixture == "prod", fargate_redis=fargate_redis
    )


def test_migrate_has_its_own_group_reaching_only_the_database(dev):
    assert security_group_of("migrate") == "migrate"
    rules = _recorded_rules(dev, DEV_NAME)
    assert ("migrate", "postgres", 5432) in rules
    assert [rule for rule in rules if rule[0] == "migrate"] == [("migrate", "postgres", 5432)]
    assert not [rule for rule in rules if rule[1] == "migrate"]


def test_only_redis_reaches_its_storage_over_nfs(dev, prod):
    assert [rule for rule in _recorded_rules(dev, DEV_NAME) if rule[1] == BROKER_STORAGE] == [
        ("redis", BROKER_STORAGE, 2049)
    ]
    assert BROKER_STORAGE not in set(_node_of_group(prod, PROD_NAME).values())


def test_only_the_load_balancer_accepts_cidr_traffic(built):
    (component,) = built.components
    nodes = _node_of_group(built, component.name)
    for rule in built.of_type(INGRESS):
        if "referencedSecurityGroupId" not in rule.inputs:
            assert nodes[rule.inputs["securityGroupId"]] == LOAD_BALANCER, rule.name
            assert rule.inputs["toPort"] in (80, 443)


def test_prod_has_no_open_world_ingress(prod):
    assert all(rule.inputs.get("cidrIpv4") != "0.0.0.0/0" for rule in prod.of_type(INGRESS))


def test_egress_is_open_only_for_tasks_and_follows_the_edges_for_the_load_balancer(built):
    (component,) = built.components
    nodes = _node_of_group(built, component.name)
    egress = built.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    open_world = {nodes[e.inputs["securityGroupId"]] for e in egress if e.inputs.get("cidrIpv4") == "0.0.0.0/0"}
    assert open_world == {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker",
        "flower",
        "redis",
        "migrate",
    }
    assert all(e.inputs["ipProtocol"] == "-1" for e in egress if "cidrIpv4" in e.inputs)
    from_balancer = {
        (nodes[e.inputs["referencedSecurityGroupId"]], e.inputs["toPort"])
        for e in egress
        if nodes[e.inputs["securityGroupId"]] == LOAD_BALANCER
    }
    served = {e.target for e in EDGES if e.source == LOAD_BALANCER}
    served -= set() if component.name == PROD_NAME else {"flower"}  # Flower is on dev's load balancer only by option
    assert from_balancer == {
        (e.target, e.port_number) for e in EDGES if e.source == LOAD_BALANCER and e.target in served
    }
    assert "postgres" not in {nodes[e.inputs["securityGroupId"]] for e in egress}


def test_each_service_and_data_store_uses_its_own_group(dev, prod):
    for mocks, cluster in ((dev, DEV_NAME), (prod, PROD_NAME)):
        nodes = _node_of_group(mocks, cluster)
        for service in mocks.of_type("aws:ecs/service:Service"):
            role_name = service.name.removeprefix(f"{cluster}-").removesuffix("-service")
            assert [nodes[g] for g in service.inputs["networkConfiguration"]["securityGroups"]] == [role_name]
        db = mocks.one("aws:rds/instance:Instance")
        assert [nodes[g] for g in db.inputs["vpcSecurityGroupIds"]] == ["postgres"]
        alb = mocks.one("aws:lb/loadBalancer:LoadBalancer")
        assert [nodes[g] for g in alb.inputs["securityGroups"]] == [LOAD_BALANCER]
    (group,) = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert [_node_of_group(prod, PROD_NAME)[g] for g in group.inputs["securityGroupIds"]] == ["redis"]


def test_ingress_rules_merge_edges_that_share_groups_and_port():
    rules = ingress_rules(["10.0.0.0/8"])
    keys = [(r.source or r.cidr, r.target, r.port) for r in rules]
    assert len(keys) == len(set(keys))
    scheduler_to_db = [r for r in rules if (r.source, r.target) == ("scheduler", "postgres")]
    assert len(scheduler_to_db) == 1
    # The autoscaler runs in the scheduler's task: its edge shares the scheduler's rule.
    assert "counts queued and running" in scheduler_to_db[0].description
    assert "metadata database" in scheduler_to_db[0].description
