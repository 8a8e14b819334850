"""The created VPC: zones chosen by ID and offerings, NAT per zone as an option, the S3 gateway and the interface
endpoints."""

from __future__ import annotations

import botocore.session
import pytest

from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.aws.endpoints import INTERFACE_SERVICES
from airflow_celery.aws.network import ZoneChoiceError, choose_zones, ec2_equivalent, instance_types
from tests.aws import harness
from tests.aws.conftest import DEV_NAME

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE = "aws:ec2/route:Route"


def _zones(mocks, tier):
    return [s.inputs["availabilityZoneId"] for s in sorted(mocks.of_type(SUBNET), key=lambda s: s.name)
            if f"-{tier}-" in s.name]  # fmt: skip


def test_subnets_are_placed_by_zone_id_not_by_name(dev):
    for tier in ("public", "private"):
        assert _zones(dev, tier) == ["use1-az1", "use1-az2"]
        assert all("availabilityZone" not in s.inputs for s in dev.of_type(SUBNET))
    assert harness.OFFERINGS_INVOKE in dev.invokes


def test_a_zone_lacking_an_instance_type_of_the_stack_is_skipped():
    """cache.t4g nodes missing in use1-az1 (InsufficientCacheClusterCapacity is a known failure there): the VPC
    goes to az2 and az3, where the database class and the node type both exist."""
    args = {"redis_mode": "elasticache", "redis_node_type": "cache.t4g.medium"}
    mocks = harness.build_component("zones", args, zones_without={"t4g.medium": ["use1-az1"]})
    assert _zones(mocks, "private") == ["use1-az2", "use1-az3"]
    assert _zones(mocks, "public") == ["use1-az2", "use1-az3"]


def test_too_few_zones_with_the_types_is_one_clear_error():
    with pytest.raises(ZoneChoiceError, match=r"only 1 availability zone.*use1-az3.*t4g\.small"):
        choose_zones(["use1-az1", "use1-az2", "use1-az3"], ["t4g.small"], ["use1-az3"], ["t4g.small"])


def test_instance_types_are_the_ec2_equivalents_of_the_stack_classes():
    assert ec2_equivalent("db.m7g.large") == "m7g.large"
    assert ec2_equivalent("cache.t4g.micro") == "t4g.micro"
    assert instance_types(resolve_args("x", {})) == ["t4g.small"]
    prod_like = resolve_args("x", {"redis_mode": "elasticache", "redis_node_type": "cache.t4g.medium",
                                   "db_instance_class": "db.m7g.large"})  # fmt: skip
    assert instance_types(prod_like) == ["m7g.large", "t4g.medium"]


def test_one_nat_by_default_for_both_zones(dev):
    nat = dev.one(NAT)
    private_tables = [r for r in dev.of_type(ROUTE) if "-private" in r.name]
    assert [r.inputs["natGatewayId"] for r in private_tables] == [nat.id]


def test_nat_per_zone_routes_each_private_subnet_through_its_own_zone():
    mocks = harness.build_component("natz", {"nat_per_zone": True})
    nats = sorted(mocks.of_type(NAT), key=lambda n: n.name)
    assert [n.name for n in nats] == ["natz-nat", "natz-nat-1"]
    public = {s.id: s.inputs["availabilityZoneId"] for s in mocks.of_type(SUBNET) if "-public-" in s.name}
    private = {s.id: s.inputs["availabilityZoneId"] for s in mocks.of_type(SUBNET) if "-private-" in s.name}
    assert sorted(public[n.inputs["subnetId"]] for n in nats) == ["use1-az1", "use1-az2"]
    tables = {t.id: t for t in mocks.of_type("aws:ec2/routeTable:RouteTable")}
    nat_zone = {n.id: public[n.inputs["subnetId"]] for n in nats}
    routes = {
        r.inputs["routeTableId"]: r.inputs["natGatewayId"] for r in mocks.of_type(ROUTE) if "natGatewayId" in r.inputs
    }
    for association in mocks.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        subnet = association.inputs["subnetId"]
        if subnet in private:
            assert association.inputs["routeTableId"] in tables
            assert nat_zone[routes[association.inputs["routeTableId"]]] == private[subnet]
    assert len(mocks.of_type("aws:ec2/eip:Eip")) == 2


def test_prod_stack_file_turns_nat_per_zone_on():
    assert harness.stack_engine_config("prod")[f"{harness.PROJECT}:natPerZone"] == "true"


def test_s3_gateway_endpoint_is_always_on_the_private_route_tables(dev):
    gateway = dev.one(ENDPOINT, f"{DEV_NAME}-s3-endpoint").inputs
    assert gateway["vpcEndpointType"] == "Gateway"
    assert gateway["serviceName"] == "com.amazonaws.us-east-1.s3"
    private_table = dev.one("aws:ec2/routeTable:RouteTable", f"{DEV_NAME}-private-rt")
    assert gateway["routeTableIds"] == [private_table.id]
    assert len(dev.of_type(ENDPOINT)) == 1  # no interface endpoints unless asked


def test_interface_endpoints_on_request():
    mocks = harness.build_component("vpce", {"interface_endpoints": True})
    interface = [e.inputs for e in mocks.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]
    assert sorted(e["serviceName"] for e in interface) == sorted(
        f"com.amazonaws.us-east-1.{s}" for s in INTERFACE_SERVICES
    )
    private = sorted(s.id for s in mocks.of_type(SUBNET) if "-private-" in s.name)
    group = mocks.one("aws:ec2/securityGroup:SecurityGroup", "vpce-endpoints-sg")
    for endpoint in interface:
        assert endpoint["privateDnsEnabled"] is True
        assert sorted(endpoint["subnetIds"]) == private
        assert endpoint["securityGroupIds"] == [group.id]
    ingress = mocks.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "vpce-endpoints-from-vpc-443")
    assert ingress.inputs["cidrIpv4"] == "10.0.0.0/16"


@pytest.mark.parametrize("key", ["nat_per_zone", "interface_endpoints"])
def test_network_options_are_refused_with_a_given_vpc(key):
    given = {
        "vpc_id": harness.GIVEN_VPC_ID,
        "public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        "private_subnet_ids": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    }
    with pytest.raises(ConfigError, match=f"{key}=True .*only a VPC created here"):
        resolve_args("x", {**given, key: True})


def test_the_offerings_query_is_one_the_ec2_api_takes():
    """location-type availability-zone-id and the instance-type filter exist in DescribeInstanceTypeOfferings
    (botocore's ec2 model)."""
    model = botocore.session.get_session().get_service_model("ec2")
    shape = model.operation_model("DescribeInstanceTypeOfferings").input_shape
    assert "availability-zone-id" in shape.members["LocationType"].enum
    assert "instance-type" in shape.members["Filters"].documentation
    output = model.operation_model("DescribeInstanceTypeOfferings").output_shape
    assert set(output.members["InstanceTypeOfferings"].member.members) >= {"InstanceType", "Location"}
