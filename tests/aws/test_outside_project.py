"""A second Pulumi program, outside this project, that brings its own VPC and passes it in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from airflow_celery.cluster import ROLES_BY_NAME, role
from airflow_celery.cluster.metrics import AGENT_CONTAINER
from tests.aws import assertions
from tests.aws.harness import RecordingMocks, run_program

PROGRAM = Path(__file__).resolve().parents[1] / "outside_project" / "__main__.py"
NETWORK_TYPES = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/eip:Eip",
)


@pytest.fixture(scope="module")
def mocks() -> RecordingMocks:
    return run_program(PROGRAM, "test", {})


def component_descendants(mocks: RecordingMocks) -> list:
    (component,) = mocks.components
    found, frontier = [], [component]
    while frontier:
        children = [child for parent in frontier for child in mocks.children_of(parent)]
        found.extend(children)
        frontier = children
    return found


def test_the_program_imports_only_the_public_api():
    tree = ast.parse(PROGRAM.read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert {module for module in imported if module.startswith("airflow_celery")} == {"airflow_celery"}


def test_the_component_creates_no_network_of_its_own(mocks):
    created = {record.type for record in component_descendants(mocks)}

    assert created.isdisjoint(NETWORK_TYPES), created & set(NETWORK_TYPES)
    assert len(mocks.of_type("aws:ec2/vpc:Vpc")) == 1
    assert len(mocks.of_type("aws:ec2/subnet:Subnet")) == 4


def test_security_groups_are_in_the_given_vpc(mocks):
    groups = mocks.of_type(assertions.SECURITY_GROUP)

    assert groups
    assert {group.inputs["vpcId"] for group in groups} == {mocks.stack_outputs["vpcId"]}


def test_services_run_in_the_given_private_subnets(mocks):
    private = mocks.stack_outputs["privateSubnetIds"]

    for service in mocks.of_type(assertions.SERVICE):
        network = service.inputs["networkConfiguration"]
        assert network["subnets"] == private, service.name
        assert network["assignPublicIp"] is False


def test_database_subnet_group_uses_the_given_private_subnets(mocks):
    (subnet_group,) = mocks.of_type("aws:rds/subnetGroup:SubnetGroup")

    assert subnet_group.inputs["subnetIds"] == mocks.stack_outputs["privateSubnetIds"]
    assert mocks.one(assertions.RDS_INSTANCE).inputs["multiAz"] is True


def test_an_internal_load_balancer_uses_the_given_private_subnets(mocks):
    """allowed_cidrs names only the VPC's private range: nobody outside reaches the load balancer."""
    load_balancer = mocks.one("aws:lb/loadBalancer:LoadBalancer")

    assert load_balancer.inputs["subnets"] == mocks.stack_outputs["privateSubnetIds"]
    assert load_balancer.inputs["internal"] is True


def test_the_given_image_runs_and_nothing_is_built(mocks):
    images = {
        c["image"]
        for _, c in mocks.all_containers()
        if c["name"] != AGENT_CONTAINER and (c["name"] not in ROLES_BY_NAME or role(c["name"]).image is None)
    }

    assert images == {"123456789012.dkr.ecr.us-east-1.amazonaws.com/our-airflow@sha256:" + "0" * 64}
    assert mocks.of_type("docker:index/image:Image") == []


def test_core_checks(mocks):
    assertions.assert_core(mocks, ["10.42.0.0/16"])
    assert mocks.stack_outputs["airflowUrl"].startswith("http")
