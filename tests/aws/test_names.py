"""Physical names AWS caps in length: with the longest component name allowed, every one must still fit.

Pulumi auto-names a resource `<logical name>-<7 random characters>` and the provider fails the deploy, rather
than shortening it, when that is too long. These limits are AWS's.
"""

from __future__ import annotations

import pytest

from airflow_celery.aws.args import MAX_NAME_LENGTH
from tests.aws import harness

AUTONAME_SUFFIX = 8  # "-" and 7 random characters
NAME_LIMITS = {
    "aws:lb/loadBalancer:LoadBalancer": 32,
    "aws:elasticache/replicationGroup:ReplicationGroup": 40,
    "aws:rds/instance:Instance": 63,
    "aws:s3/bucket:Bucket": 63,
    "aws:iam/role:Role": 64,
    "aws:ecr/repository:Repository": 256,
}
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LONGEST = "a" * (MAX_NAME_LENGTH - 4) + "-b2c"


@pytest.fixture(scope="module")
def longest():
    return harness.build_component(
        LONGEST, {"redis_mode": "elasticache", "flower_on_load_balancer": True}, stack="prod"
    )


@pytest.mark.parametrize(("token", "limit"), NAME_LIMITS.items(), ids=lambda v: str(v))
def test_auto_names_fit_with_the_longest_component_name(longest, token, limit):
    found = longest.of_type(token)
    assert found, f"no {token} was created"
    for resource in found:
        name = resource.inputs.get("name") or resource.inputs.get("identifier") or resource.inputs.get("bucket")
        length = len(name) if name else len(resource.name) + AUTONAME_SUFFIX
        assert length <= limit, f"{resource.name}: {length} characters > {limit}"


def test_target_groups_use_short_prefixes(longest):
    groups = longest.of_type(TARGET_GROUP)
    assert len(groups) == 2
    for group in groups:
        assert "name" not in group.inputs
        assert 1 <= len(group.inputs["namePrefix"]) <= 6  # AWS's cap on a target group name prefix
