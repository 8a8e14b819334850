"""resolve_args: every bad value is one ConfigError, raised before the component registers anything."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from airflow_celery.aws.arg_declarations import ARGS
from airflow_celery.aws.args import (
    FARGATE_ROLES,
    MAX_NAME_LENGTH,
    ConfigError,
    RedisMode,
    arg_annotations,
    input_of,
    resolve_args,
)
from airflow_celery.cluster import ROLES, Kind, is_fargate_size, role
from tests.aws import assertions, harness

VPC = "vpc-0123456789abcdef0"
PUBLIC = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
PRIVATE = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
DIGEST = "sha256:" + "ab" * 32


def bad(case_id: str, args: Any, key: str, value: Any, allowed: str, name: str = "airflow") -> Any:
    return pytest.param(name, args, key, value, allowed, id=case_id)


BAD_VALUES = [
    bad("name-uppercase", None, "name", "Airflow", "lowercase letters", name="Airflow"),
    bad("name-too-long", None, "name", "a" * 21, f"at most {MAX_NAME_LENGTH} characters", name="a" * 21),
    bad("name-double-hyphen", None, "name", "air--flow", "single hyphens", name="air--flow"),
    bad("name-trailing-hyphen", None, "name", "airflow-", "not ending with a hyphen", name="airflow-"),
    bad("name-starts-with-digit", None, "name", "1airflow", "starting with a letter", name="1airflow"),
    bad("args-not-a-dict", ["worker_count"], "args", ["worker_count"], "a dict of AirflowCeleryClusterArgs"),
    bad("unknown-key-typo", {"worker_cont": 2}, "worker_cont", 2, "did you mean 'worker_count'?"),
    bad("camel-case-key", {"workerCount": 2}, "workerCount", 2, "did you mean 'worker_count'?"),
    bad("int-for-bool", {"db_multi_az": 1}, "db_multi_az", 1, "true or false"),
    bad("string-for-bool", {"ecr_force_delete": "true"}, "ecr_force_delete", "true", "true or false"),
    bad("bool-for-int", {"worker_count": True}, "worker_count", True, "a whole number, not a bool"),
    bad("string-for-int", {"worker_count": "3"}, "worker_count", "3", "not the string '3'"),
    bad("float-for-int", {"db_allocated_storage": 20.5}, "db_allocated_storage", 20.5, "a whole number"),
    bad("int-for-string", {"db_engine_version": 16}, "db_engine_version", 16, "a non-empty string"),
    bad("string-for-list", {"allowed_cidrs": "10.0.0.0/8"}, "allowed_cidrs", "10.0.0.0/8", "a list of strings"),
    bad(
        "fargate-memory-for-cpu",
        {"role_sizes": {"worker": {"cpu": 1024, "memory": 512}}},
        "role_sizes.worker",
        {"cpu": 1024, "memory": 512},
        "with cpu 1024, memory must be 2048-8192 MiB",
    ),
    bad(
        "fargate-cpu",
        {"role_sizes": {"api-server": {"cpu": 300}}},
        "role_sizes.api-server",
        {"cpu": 300, "memory": role("api-server").size.memory},
        "cpu must be one of 256, 512, 1024",
    ),
    bad(
        "fargate-memory-step",
        {"role_sizes": {"scheduler": {"cpu": 8192, "memory": 18432}}},
        "role_sizes.scheduler",
        {"cpu": 8192, "memory": 18432},
        "in steps of 4096",
    ),
    bad(
        "role-size-unknown-role",
        {"role_sizes": {"webserver": {"cpu": 512, "memory": 1024}}},
        "role_sizes.webserver",
        {"cpu": 512, "memory": 1024},
        "api-server, scheduler, dag-processor, triggerer, worker, flower, migrate, redis",
    ),
    bad(
        "role-size-autoscaler-shares-scheduler",
        {"role_sizes": {"autoscaler": {"cpu": 512, "memory": 1024}}},
        "role_sizes.autoscaler",
        {"cpu": 512, "memory": 1024},
        "runs inside the scheduler task",
    ),
    bad(
        "role-size-unknown-field",
        {"role_sizes": {"worker": {"cpu": 1024, "mem": 4096}}},
        "role_sizes.worker.mem",
        4096,
        "allowed keys are cpu, memory",
    ),
    bad(
        "role-size-redis-with-elasticache",
        {"redis_mode": "elasticache", "role_sizes": {"redis": {"cpu": 512, "memory": 1024}}},
        "role_sizes.redis",
        {"cpu": 512, "memory": 1024},
        "only used when redis_mode is 'fargate'",
    ),
    bad(
        "worker-min-above-count",
        {"worker_count": 2, "worker_min_count": 3},
        "worker_min_count",
        3,
        "at most worker_count (2)",
    ),
    bad(
        "worker-count-above-max",
        {"worker_count": 5, "worker_max_count": 3},
        "worker_max_count",
        3,
        "at least worker_count (5)",
    ),
    bad("worker-max-above-cap", {"worker_max_count": 101}, "worker_max_count", 101, "from 0 to 100"),
    bad("worker-min-negative", {"worker_min_count": -1}, "worker_min_count", -1, "from 0 to 100"),
    bad(
        "no-worker-at-all",
        {"worker_count": 0, "worker_max_count": 0},
        "worker_max_count",
        0,
        "at least 1: without a worker no task ever runs",
    ),
    bad("worker-concurrency-zero", {"worker_concurrency": 0}, "worker_concurrency", 0, "from 1 to 256"),
    bad("worker-concurrency-too-high", {"worker_concurrency": 257}, "worker_concurrency", 257, "from 1 to 256"),
    bad("retries-negative", {"default_task_retries": -1}, "default_task_retries", -1, "from 0 to 10"),
    bad("retries-too-many", {"default_task_retries": 11}, "default_task_retries", 11, "from 0 to 10"),
    bad("retries-not-int", {"default_task_retries": "2"}, "default_task_retries", "2", "a whole number"),
    bad(
        "retry-delay-negative",
        {"default_task_retry_delay_seconds": -5},
        "default_task_retry_delay_seconds",
        -5,
        "from 0 to 86400",
    ),
    bad(
        "retry-delay-above-airflow-max",
        {"default_task_retry_delay_seconds": 86401},
        "default_task_retry_delay_seconds",
        86401,
        "max_task_retry_delay",
    ),
    bad("vpc-cidr-host-bits", {"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr", "10.0.0.1/16", "no host bits set"),
    bad("vpc-cidr-too-large", {"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr", "10.0.0.0/8", "a prefix from /16 to /24"),
    bad("vpc-cidr-too-small", {"vpc_cidr": "10.0.0.0/28"}, "vpc_cidr", "10.0.0.0/28", "a prefix from /16 to /24"),
    bad(
        "allowed-cidr-not-a-network",
        {"allowed_cidrs": ["0.0.0.0/0", "office"]},
        "allowed_cidrs[1]",
        "office",
        "CIDR form",
    ),
    bad("allowed-cidr-ipv6", {"allowed_cidrs": ["::/0"]}, "allowed_cidrs[0]", "::/0", "an IPv4 network"),
    bad("allowed-cidrs-empty", {"allowed_cidrs": []}, "allowed_cidrs", [], "at least one CIDR block"),
    bad(
        "subnets-without-vpc",
        {"public_subnet_ids": PUBLIC, "private_subnet_ids": PRIVATE},
        "public_subnet_ids",
        PUBLIC,
        "give vpc_id with it",
    ),
    bad(
        "vpc-without-private-subnets",
        {"vpc_id": VPC, "public_subnet_ids": PUBLIC},
        "private_subnet_ids",
        None,
        "at least 2 subnet ids",
    ),
    bad(
        "vpc-with-one-private-subnet",
        {"vpc_id": VPC, "public_subnet_ids": PUBLIC, "private_subnet_ids": PRIVATE[:1]},
        "private_subnet_ids",
        PRIVATE[:1],
        "at least 2 subnet ids in different availability zones",
    ),
    bad(
        "vpc-id-format",
        {"vpc_id": "my-vpc", "public_subnet_ids": PUBLIC, "private_subnet_ids": PRIVATE},
        "vpc_id",
        "my-vpc",
        "vpc-0123456789abcdef0",
    ),
    bad(
        "subnet-public-and-private",
        {"vpc_id": VPC, "public_subnet_ids": PUBLIC, "private_subnet_ids": [PUBLIC[0], PRIVATE[1]]},
        "private_subnet_ids[0]",
        PUBLIC[0],
        "no subnet can be both",
    ),
    bad(
        "certificate-not-acm",
        {"certificate_arn": "arn:aws:iam::123456789012:server-certificate/ui"},
        "certificate_arn",
        "arn:aws:iam::123456789012:server-certificate/ui",
        "arn:aws:acm:REGION:ACCOUNT:certificate/ID",
    ),
    bad(
        "domain-with-scheme",
        {"domain_name": "https://airflow.example.com"},
        "domain_name",
        "https://airflow.example.com",
        "without scheme or path",
    ),
    bad("image-without-tag-or-digest", {"image": "apache/airflow"}, "image", "apache/airflow", "name@sha256:<64 hex"),
    bad("image-tag-only", {"image": "apache/airflow:3.3.2"}, "image", "apache/airflow:3.3.2", "a tag alone can move"),
    bad(
        "certificate-placeholder-account",
        {"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"},
        "certificate_arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
        "replace it in the stack file",
    ),
    bad(
        "certificate-placeholder-id",
        {"certificate_arn": "arn:aws:acm:us-east-1:210987654321:certificate/00000000-0000-0000-0000-000000000000"},
        "certificate_arn",
        "arn:aws:acm:us-east-1:210987654321:certificate/00000000-0000-0000-0000-000000000000",
        "an all-zero certificate id",
    ),
    bad("apply-immediately-string", {"apply_immediately": "yes"}, "apply_immediately", "yes", "true or false"),
    bad("domain-placeholder", {"domain_name": "airflow.example.com"}, "domain_name", "airflow.example.com", "RFC 2606"),
    bad(
        "domain-placeholder-org",
        {"domain_name": "example.org"},
        "domain_name",
        "example.org",
        "replace the placeholder",
    ),
    bad(
        "image-short-digest",
        {"image": "apache/airflow@sha256:abc"},
        "image",
        "apache/airflow@sha256:abc",
        "pinned by digest",
    ),
    bad("log-retention-not-cloudwatch", {"log_retention_days": 10}, "log_retention_days", 10, "7, 14, 30"),
    bad("redis-mode", {"redis_mode": "memorydb"}, "redis_mode", "memorydb", "'fargate', 'elasticache'"),
    bad("redis-node-type", {"redis_node_type": "t4g.small"}, "redis_node_type", "t4g.small", "cache.t4g.small"),
    bad("db-instance-class", {"db_instance_class": "t4g.small"}, "db_instance_class", "t4g.small", "db.t4g.small"),
    bad(
        "db-instance-class-unknown",
        {"db_instance_class": "db.x2g.large"},
        "db_instance_class",
        "db.x2g.large",
        "classes whose memory the connection budget knows",
    ),
    bad(
        "connections-over-budget",
        {"worker_max_count": 100, "worker_concurrency": 24, "db_instance_class": "db.t4g.micro"},
        "db_instance_class",
        "db.t4g.micro",
        "ways out: a bigger class",
    ),
    bad(
        "slots-over-worker-memory",
        {"worker_concurrency": 64},
        "worker_concurrency",
        64,
        "at most 27 slots on a worker of 3072 MiB",
    ),
    bad(
        "triggerer-below-its-health-check",
        {"role_sizes": {"triggerer": {"cpu": 256, "memory": 512}}},
        "role_sizes.triggerer",
        {"cpu": 256, "memory": 512},
        "airflow jobs check",
    ),
    bad(
        "heartbeats-over-api-server-cpu",
        {"worker_max_count": 100, "db_instance_class": "db.r7g.4xlarge"},
        "api_server_count",
        1,
        "1600 running tasks' heartbeats",
    ),
    bad("api-server-count-zero", {"api_server_count": 0}, "api_server_count", 0, "a whole number from 1 to 10"),
    bad("scheduler-count-too-many", {"scheduler_count": 5}, "scheduler_count", 5, "a whole number from 1 to 4"),
    bad("triggerer-count-string", {"triggerer_count": "2"}, "triggerer_count", "2", "a whole number"),
    bad("db-pool-size-zero", {"db_pool_size": 0}, "db_pool_size", 0, "a whole number from 1 to 50"),
    bad("db-max-overflow-negative", {"db_max_overflow": -1}, "db_max_overflow", -1, "a whole number from 0 to 50"),
    bad("db-storage-too-small", {"db_allocated_storage": 10}, "db_allocated_storage", 10, "from 20 to 65536"),
    bad("db-engine-too-old", {"db_engine_version": "12"}, "db_engine_version", "12", "15-17"),
    bad("db-engine-public-schema-open", {"db_engine_version": "14"}, "db_engine_version", "14", "15-17"),
    bad("db-backup-retention-zero", {"db_backup_retention_days": 0}, "db_backup_retention_days", 0, "from 1 to 35"),
    bad("admin-username-colon", {"admin_username": "admin:x"}, "admin_username", "admin:x", "a letter, then"),
    bad("tag-aws-prefix", {"tags": {"aws:team": "data"}}, "tags.aws:team", "aws:team", "reserved prefix aws:"),
    bad("tag-value-too-long", {"tags": {"team": "x" * 257}}, "tags.team", "x" * 257, "at most 256 characters"),
    bad("tag-value-not-string", {"tags": {"cost-center": 42}}, "tags.cost-center", 42, "a non-empty string"),
    bad(
        "output-for-plain-value", {"worker_count": pulumi.Output.from_input(2)}, "worker_count", None, "a whole number"
    ),
    bad(
        "dag-failure-notifications-without-monitoring",
        {"monitoring": False, "dag_failure_notifications": True},
        "dag_failure_notifications",
        True,
        "true only with monitoring on (its failure messages go to the alarms' SNS topic",
    ),
]


@pytest.mark.parametrize(("name", "args", "key", "value", "allowed"), BAD_VALUES)
def test_bad_value_is_one_config_error_naming_key_value_and_allowed(name, args, key, value, allowed):
    with pytest.raises(ConfigError) as caught:
        resolve_args(name, args)

    error = caught.value
    assert error.key == key
    if value is not None:
        assert error.value == value
    message = str(error)
    assert message.startswith(f"{key}={error.value!r} is not valid: ")
    assert allowed in message


# The harness copies args with dict(), so the one case whose args are not a mapping is checked above only.
BAD_COMPONENT_VALUES = [case for case in BAD_VALUES if case.values[1] is None or isinstance(case.values[1], dict)]


@pytest.mark.parametrize(("name", "args", "key", "value", "allowed"), BAD_COMPONENT_VALUES)
def test_bad_value_registers_no_resource(monkeypatch, name, args, key, value, allowed):
    remembered = assertions.remember_mocks(monkeypatch)

    with pytest.raises(ConfigError) as caught:
        harness.build_component(name, args)

    assert caught.value.key == key
    (mocks,) = remembered
    assert [record.name for record in mocks.records] == []


# --- good paths ---------------------------------------------------------------------------------------------


def test_defaults_fill_every_field_and_size_every_fargate_role_from_the_description():
    config = resolve_args("airflow", None)

    unset_collections = dict.fromkeys(("public_subnet_ids", "private_subnet_ids", "allowed_cidrs"), ()) | {
        "role_capacity": {},
        "tags": {},
        "worker_queues": (),
    }
    expected = {arg.name: arg.default for arg in ARGS} | unset_collections
    expected |= {"worker_min_count": 1, "worker_max_count": 1, "role_sizes": config.role_sizes}
    assert config.name == "airflow"
    assert {arg.name: getattr(config, arg.name) for arg in ARGS} == expected
    # migrate runs as its own one-off Fargate task (aws/migration.py): it takes a size too.
    assert set(FARGATE_ROLES) == {r.name for r in ROLES if r.kind in (Kind.AIRFLOW, Kind.BROKER, Kind.JOB)}
    assert config.role_sizes["migrate"] == (512, 2048)
    for role_name, (cpu, memory) in config.role_sizes.items():
        assert (cpu, memory) == (role(role_name).size.cpu, role(role_name).size.memory)
        assert is_fargate_size(cpu, memory)


def test_empty_args_equal_no_args():
    assert resolve_args("airflow", {}) == resolve_args("airflow", None)


def test_role_size_override_changes_only_that_role():
    defaults = resolve_args("airflow", None).role_sizes
    sizes = resolve_args("airflow", {"role_sizes": {"worker": {"cpu": 2048, "memory": 8192}}}).role_sizes

    assert sizes["worker"] == (2048, 8192)
    assert {k: v for k, v in sizes.items() if k != "worker"} == {k: v for k, v in defaults.items() if k != "worker"}


def test_role_size_override_of_memory_alone_keeps_the_default_cpu():
    sizes = resolve_args("airflow", {"role_sizes": {"worker": {"memory": 8192}}}).role_sizes

    assert sizes["worker"] == (role("worker").size.cpu, 8192)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param({}, (1, 1, 1), id="nothing-set"),
        pytest.param({"worker_count": 3}, (3, 3, 3), id="count-only"),
        pytest.param({"worker_min_count": 2}, (2, 2, 2), id="min-only-raises-count"),
        pytest.param({"worker_max_count": 5}, (1, 1, 5), id="max-only"),
        pytest.param({"worker_min_count": 0, "worker_max_count": 4}, (1, 0, 4), id="scale-to-zero-range"),
        pytest.param({"worker_count": 2, "worker_min_count": 2, "worker_max_count": 10}, (2, 2, 10), id="all-set"),
    ],
)
def test_worker_count_min_and_max_defaults(args, expected):
    # A class large enough for 10 workers' connections: the budget is tested on its own.
    config = resolve_args("airflow", {**args, "db_instance_class": "db.m7g.large"})

    assert (config.worker_count, config.worker_min_count, config.worker_max_count) == expected


def test_existing_vpc_and_lists_are_kept_as_tuples():
    given = {"vpc_id": VPC, "public_subnet_ids": PUBLIC, "private_subnet_ids": PRIVATE, "allowed_cidrs": ["10.0.0.0/8"]}
    config = resolve_args("airflow", given)

    assert config.vpc_id == VPC
    assert config.public_subnet_ids == tuple(PUBLIC)
    assert config.private_subnet_ids == tuple(PRIVATE)


def test_outputs_are_accepted_for_resource_ids_created_in_the_same_program():
    vpc_id = pulumi.Output.from_input(VPC)
    subnets = [pulumi.Output.from_input(s) for s in PRIVATE]

    config = resolve_args(
        "airflow",
        {"vpc_id": vpc_id, "public_subnet_ids": PUBLIC, "private_subnet_ids": subnets, "allowed_cidrs": ["10.0.0.0/8"]},
    )

    assert config.vpc_id is vpc_id
    assert config.private_subnet_ids == tuple(subnets)


def test_one_output_of_a_whole_subnet_list_is_refused():
    subnets = pulumi.Output.from_input(PRIVATE)

    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"vpc_id": VPC, "public_subnet_ids": PUBLIC, "private_subnet_ids": subnets})

    assert caught.value.key == "private_subnet_ids"


def test_the_arguments_that_may_be_outputs_are_those_annotated_pulumi_input():
    may_be_outputs = {
        key for key, annotation in arg_annotations().items() if input_of(annotation) or "Awaitable" in str(annotation)
    }

    assert may_be_outputs == {"vpc_id", "public_subnet_ids", "private_subnet_ids", "certificate_arn", "image"}


@pytest.mark.parametrize("mode", ["elasticache", RedisMode.ELASTICACHE])
def test_redis_mode_takes_the_string_or_the_enum(mode):
    config = resolve_args("airflow", {"redis_mode": mode})

    assert config.redis_mode is RedisMode.ELASTICACHE
    assert config.redis_mode == "elasticache"


def test_a_role_size_may_override_cpu_or_memory_alone():
    config = resolve_args("airflow", {"role_sizes": {"worker": {"memory": 4096}}})

    assert config.role_sizes["worker"] == (role("worker").size.cpu, 4096)


@pytest.mark.parametrize(
    "image",
    [
        f"apache/airflow@{DIGEST}",
        f"123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow@{DIGEST}",
        f"registry.example.com:5000/team/airflow:3.3.2@{DIGEST}",
    ],
)
def test_images_pinned_by_digest_are_accepted(image):
    assert resolve_args("airflow", {"image": image}).image == image


def test_https_follows_the_certificate():
    arn = "arn:aws:acm:eu-west-1:210987654321:certificate/0a1b2c3d-0000-4000-8000-000000000001"

    assert resolve_args("airflow", {"certificate_arn": arn, "allowed_cidrs": ["81.2.69.0/24"]}).https
    assert not resolve_args("airflow", None).https


def test_longest_allowed_name_is_accepted():
    name = "a" + "-b" * ((MAX_NAME_LENGTH - 1) // 2)

    assert len(name) <= MAX_NAME_LENGTH
    assert resolve_args(name, None).name == name


# --- no open doors ------------------------------------------------------------------------------------------

CERTIFICATE = "arn:aws:acm:eu-west-1:210987654321:certificate/0a1b2c3d-0000-4000-8000-000000000001"


@pytest.mark.parametrize("sign", [{"certificate_arn": CERTIFICATE}, {"db_deletion_protection": True}])
def test_production_must_name_who_reaches_it(sign):
    with pytest.raises(ConfigError, match=r"allowed_cidrs=None .*required here .*treated as production"):
        resolve_args("airflow", sign)


@pytest.mark.parametrize("sign", [{"certificate_arn": CERTIFICATE}, {"db_deletion_protection": True}])
def test_production_open_to_the_whole_internet_is_refused(sign):
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {**sign, "allowed_cidrs": ["81.2.69.0/24", "0.0.0.0/0"]})
    assert (caught.value.key, caught.value.value) == ("allowed_cidrs[1]", "0.0.0.0/0")
    assert "narrower than the whole internet" in caught.value.allowed


@pytest.mark.parametrize("placeholder", ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.0/24"])
def test_production_refuses_a_documentation_range_left_in_the_stack_file(placeholder):
    with pytest.raises(ConfigError, match="replace it in the stack file") as caught:
        resolve_args("airflow", {"db_deletion_protection": True, "allowed_cidrs": [placeholder]})
    assert caught.value.key == "allowed_cidrs[0]"


def test_a_dev_stack_may_still_open_itself_on_purpose():
    assert resolve_args("airflow", {"allowed_cidrs": ["0.0.0.0/0"]}).internal_load_balancer is False


def test_the_default_is_an_internal_load_balancer_reached_from_the_vpc_only():
    config = resolve_args("airflow", None)
    assert config.allowed_cidrs == ()
    assert config.load_balancer_cidrs == ("10.0.0.0/16",)
    assert config.internal_load_balancer is True
    assert resolve_args("airflow", {"allowed_cidrs": ["10.8.0.0/16", "172.16.0.0/12"]}).internal_load_balancer
    assert not resolve_args("airflow", {"allowed_cidrs": ["10.8.0.0/16", "198.51.100.7/32"]}).internal_load_balancer


def test_a_given_vpc_must_name_who_reaches_the_load_balancer():
    with pytest.raises(ConfigError, match=r"allowed_cidrs=None .*required here \(vpc_id is given\)"):
        resolve_args("airflow", {"vpc_id": VPC, "public_subnet_ids": PUBLIC, "private_subnet_ids": PRIVATE})
