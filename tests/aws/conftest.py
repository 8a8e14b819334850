"""Shared builds for the resource tests: a dev-like and a prod-like cluster, each built once per run.

Tests read these recorded results instead of building again; under xdist one process of the run builds each
(tests/once_per_run.py).
"""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import set_all_config

from tests.aws import harness
from tests.once_per_run import once_per_run

DEV_NAME = "airflow-dev"
PROD_NAME = "airflow-prod"
PROD_DOMAIN = "airflow.data.acme-corp.io"
DEV_ARGS: dict = {}
"""Every default: new VPC, Redis on Fargate, no certificate (plain HTTP and a warning), image built here."""
PROD_ARGS: dict = {
    "vpc_id": "vpc-0123456789abcdef0",
    "public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "private_subnet_ids": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    "allowed_cidrs": ["81.2.69.0/24", "52.94.76.0/22"],
    "flower_on_load_balancer": True,
    "certificate_arn": "arn:aws:acm:eu-west-1:210987654321:certificate/12345678-1234-1234-1234-123456789012",
    "domain_name": PROD_DOMAIN,
    "redis_mode": "elasticache",
    "worker_count": 3,
    "worker_max_count": 6,
    "worker_concurrency": 8,
    "role_sizes": {"worker": {"cpu": 2048, "memory": 8192}, "api-server": {"cpu": 1024, "memory": 4096}},
    "db_multi_az": True,
    "db_deletion_protection": True,
    "db_backup_retention_days": 14,
    "db_instance_class": "db.m7g.large",
    "log_retention_days": 90,
    "ecr_force_delete": False,
    "tags": {"team": "data", "env": "prod"},
}


VARIANT_NAME = "variant"
VARIANT_ARGS: dict = {
    "image": "registry.example.com/airflow@sha256:" + "ab" * 32,
    "ecr_force_delete": True,
    "db_skip_final_snapshot": True,
    "db_engine_version": "17",
}
"""The switches neither dev nor prod flips: a given image, force-delete, no final snapshot."""


@pytest.fixture(scope="session")
def variant(tmp_path_factory) -> harness.RecordingMocks:
    return once_per_run(tmp_path_factory, "variant", lambda: harness.build_component(VARIANT_NAME, VARIANT_ARGS))


@pytest.fixture(scope="session")
def dev(tmp_path_factory) -> harness.RecordingMocks:
    return once_per_run(tmp_path_factory, "dev", lambda: harness.build_component(DEV_NAME, DEV_ARGS))


@pytest.fixture(scope="session")
def prod(tmp_path_factory) -> harness.RecordingMocks:
    return once_per_run(tmp_path_factory, "prod", lambda: harness.build_component(PROD_NAME, PROD_ARGS, stack="prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def built(request: pytest.FixtureRequest) -> harness.RecordingMocks:
    """Each of the two clusters, for properties that must hold for both."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def stack_config():
    """Set the engine's config for one test (`key` -> value, namespaced to the project) and clear it after.

    Values are YAML values (passed as the engine would: JSON for structures) or already the engine's text.
    """

    def set_config(values: dict) -> pulumi.Config:
        set_all_config(harness.config_map(values))
        return pulumi.Config(harness.PROJECT)

    yield set_config
    set_all_config({})
