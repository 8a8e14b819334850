"""Someone else's Pulumi program: its own VPC, subnets and image, and an Airflow cluster inside them.

It uses only the package's public API, as a project that installed the wheel would.
"""

import pulumi
import pulumi_aws as aws

from airflow_celery import AirflowCeleryCluster

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/our-airflow@sha256:" + "0" * 64

vpc = aws.ec2.Vpc("shared-vpc", cidr_block="10.42.0.0/16", enable_dns_hostnames=True, enable_dns_support=True)
zones = ("us-east-1a", "us-east-1b")
public = [
    aws.ec2.Subnet(f"shared-public-{i}", vpc_id=vpc.id, cidr_block=f"10.42.{i}.0/24", availability_zone=zone)
    for i, zone in enumerate(zones)
]
private = [
    aws.ec2.Subnet(f"shared-private-{i}", vpc_id=vpc.id, cidr_block=f"10.42.{10 + i}.0/24", availability_zone=zone)
    for i, zone in enumerate(zones)
]

airflow = AirflowCeleryCluster(
    "etl",
    {
        "vpc_id": vpc.id,
        "public_subnet_ids": [subnet.id for subnet in public],
        "private_subnet_ids": [subnet.id for subnet in private],
        "image": IMAGE,
        # Required with vpc_id: who may reach the load balancer. The VPC's own range: an internal one.
        "allowed_cidrs": ["10.42.0.0/16"],
        "db_multi_az": True,
        "tags": {"team": "data"},
    },
)

pulumi.export("vpcId", vpc.id)
pulumi.export("publicSubnetIds", [subnet.id for subnet in public])
pulumi.export("privateSubnetIds", [subnet.id for subnet in private])
pulumi.export("airflowUrl", airflow.airflow_url)
