"""The per-field checks of resolve_args: each argument's value on its own, or with the few it depends on.

Ranges and choices come from the declarations (`check_declared`); the rest is here: formats (ids, ARNs, CIDRs,
image digests), what a production stack must set, worker counts, hibernation, Spot, the database, role sizes and
tags. Each failure is one ConfigError naming the key, the value and what is allowed.
"""

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from airflow_celery.aws.arg_declarations import (
    DEFAULTS,
    HIBERNATION,
    MAX_NAME_LENGTH,
    POSTGRES_MAJORS,
    Arg,
    range_allowed,
)
from airflow_celery.aws.rds_limits import INSTANCE_CLASS_MEMORY_GIB
from airflow_celery.aws.value_types import ConfigError, require
from airflow_celery.cluster import ROLES, ROLES_BY_NAME, Kind, is_fargate_size, role
from airflow_celery.cluster.fargate import describe_allowed
from airflow_celery.cluster.roles import REDIS, WORKER

_NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*")  # a hyphen must be followed by a letter/digit
MAX_TAGS = 40
"""AWS allows 50 tags per resource; the rest are left for the component's own tags."""

FARGATE_ROLES: tuple[str, ...] = tuple(r.name for r in ROLES if r.kind in (Kind.AIRFLOW, Kind.BROKER, Kind.JOB))
"""The roles that run as Fargate tasks and so take a size: the services and migrate's one-off task. The autoscaler
runs inside the scheduler's task."""

_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_CERTIFICATE_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:acm:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:certificate/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_IMAGE_DOMAIN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?"
_IMAGE_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:{_IMAGE_DOMAIN}/)?{_IMAGE_PATH_COMPONENT}(?:/{_IMAGE_PATH_COMPONENT})*"
    r"(?P<tag>:[\w][\w.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?"
)
_DOMAIN_NAME = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EXAMPLE_DOMAIN = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|example)$")
EXAMPLE_ACCOUNT = "123456789012"
"""The account id in AWS's documentation examples: no certificate of yours lives there."""
_NODE_TYPE = re.compile(r"cache\.[a-z0-9]+\.[a-z0-9]+")
_ENGINE_VERSION = re.compile(r"(?P<major>\d+)(?:\.\d+)?")
_ADMIN_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TAG_TEXT = re.compile(r"[\w .:/=+\-@]*")
ROLE_CAPACITIES = ("fargate", "fargate-spot")
SPOT_ROLES: tuple[str, ...] = tuple(r.name for r in ROLES if r.kind is Kind.AIRFLOW and not r.scalable)
"""The services role_capacity may put on Spot: every Airflow service but the workers (worker_capacity)."""
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(r) for r in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
"""RFC 5737's ranges, reserved for documentation: a stack file's example, never someone's office."""
PRODUCTION_SIGNS = ("db_deletion_protection", "certificate_arn")
"""A stack that protects its database from deletion or serves HTTPS is treated as production."""
_TAG_CHARSET = "letters, digits, spaces and _ . : / = + - @"


def _check_choice(given: Mapping[str, Any], key: str, choices: tuple[Any, ...], what: str) -> None:
    if key in given:
        require(given[key] in choices, key, given[key], f"one of the {what}: {', '.join(map(str, choices))}")


def _check_pattern(given: Mapping[str, Any], key: str, pattern: re.Pattern[str], allowed: str) -> None:
    value = given.get(key)
    if isinstance(value, str):
        require(pattern.fullmatch(value) is not None, key, value, allowed)


def check_name(name: object) -> None:
    allowed = (
        f"lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen, "
        f"at most {MAX_NAME_LENGTH} characters (AWS caps load balancer and target group names at 32, and the "
        f"component adds suffixes such as '-flower' to it)"
    )
    if not isinstance(name, str):
        raise ConfigError("name", name, allowed)
    if len(name) > MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise ConfigError("name", name, allowed)


def check_declared(given: Mapping[str, Any], arg: Arg, prefix: str = "") -> None:
    """The checks an argument's declaration asks for: its range, or its allowed values. `prefix` names the
    argument a record's key belongs to ("hibernation.")."""
    if arg.name not in given:
        return
    key, value = prefix + arg.name, given[arg.name]
    if arg.bounds is not None:
        low, high = arg.bounds
        require(low <= value <= high, key, value, range_allowed(arg))
    if isinstance(arg.choices, tuple):
        require(value in arg.choices, key, value, f"one of the {arg.choices_are}: {', '.join(map(str, arg.choices))}")


def _ipv4_network(key: str, value: str) -> ipaddress.IPv4Network:
    allowed = "an IPv4 network in CIDR form with no host bits set, e.g. 10.0.0.0/16 or 203.0.113.7/32"
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ConfigError(key, value, allowed) from None
    require(isinstance(network, ipaddress.IPv4Network) and "/" in value, key, value, allowed)
    return network  # type: ignore[return-value]


def _check_subnet(key: str, subnet: Any, seen: dict[str, str]) -> None:
    if not isinstance(subnet, str):
        return  # an Output: its value is known only at deploy time
    require(_SUBNET_ID.fullmatch(subnet) is not None, key, subnet, "a subnet id like subnet-0123456789abcdef0")
    require(
        subnet not in seen,
        key,
        subnet,
        f"a subnet not already listed (it is {seen.get(subnet)}); public subnets route to an internet gateway, "
        "private ones do not, so no subnet can be both",
    )
    seen[subnet] = key


def _check_existing_vpc(given: Mapping[str, Any]) -> None:
    """vpc_id and both subnet lists come together; multi-AZ RDS and the ALB need 2 subnets in each list."""
    subnet_keys = ("public_subnet_ids", "private_subnet_ids")
    if "vpc_id" in given:
        for key in ("nat_per_zone", "interface_endpoints"):
            require(not given.get(key), key, given.get(key), "false with vpc_id: it shapes only a VPC created here")
    if "vpc_id" not in given:
        for key in subnet_keys:
            if key in given:
                raise ConfigError(key, given[key], "give vpc_id with it, or leave both out to create a VPC")
        return
    _check_pattern(given, "vpc_id", _VPC_ID, "a VPC id like vpc-0123456789abcdef0")
    seen: dict[str, str] = {}
    for key in subnet_keys:
        subnets = given.get(key)
        require(
            subnets is not None and len(subnets) >= 2,
            key,
            subnets,
            "at least 2 subnet ids in different availability zones (required with vpc_id)",
        )
        for index, subnet in enumerate(subnets):
            _check_subnet(f"{key}[{index}]", subnet, seen)


def _production_sign(given: Mapping[str, Any]) -> str | None:
    return next((key for key in PRODUCTION_SIGNS if given.get(key)), None)


def _check_no_open_door(given: Mapping[str, Any]) -> None:
    """Production names who may reach it, and never the whole internet; a given VPC names it too (the default,
    the created VPC's own range, does not exist there)."""
    cidrs = given.get("allowed_cidrs")
    sign = _production_sign(given)
    if cidrs is None:
        why = f"{sign} is set, so this stack is treated as production" if sign else "vpc_id is given"
        require(
            sign is None and "vpc_id" not in given,
            "allowed_cidrs",
            cidrs,
            f"required here ({why}): the CIDR blocks of your offices or VPN that may reach the load balancer, "
            "e.g. [203.0.113.0/24]; private blocks only make the load balancer internal",
        )
        return
    if sign is None:
        return
    for index, cidr in enumerate(cidrs):
        require(
            not any(ipaddress.ip_network(cidr).subnet_of(r) for r in DOCUMENTATION_RANGES),
            f"allowed_cidrs[{index}]",
            cidr,
            "your own offices' or VPN's ranges: this is a placeholder (an RFC 5737 documentation range); replace it "
            "in the stack file",
        )
        require(
            not cidr.endswith("/0"),
            f"allowed_cidrs[{index}]",
            cidr,
            f"a range narrower than the whole internet: {sign} is set, so this stack is treated as production, "
            "and its admin login and API must not be open to everyone (list your offices' or VPN's blocks)",
        )


def _check_not_placeholder(given: Mapping[str, Any]) -> None:
    """A stack file's example certificate or domain would fail minutes into `pulumi up` (the listener or the
    certificate check), after the database and the network exist: refuse it now."""
    arn, domain = given.get("certificate_arn"), given.get("domain_name")
    if isinstance(arn, str):
        account, certificate_id = arn.split(":")[4], arn.rpartition("/")[2]
        require(
            account != EXAMPLE_ACCOUNT and set(certificate_id) != {"0", "-"},
            "certificate_arn",
            arn,
            "the ARN of your own ACM certificate, in the stack's region: this is a placeholder (AWS's example "
            f"account {EXAMPLE_ACCOUNT} or an all-zero certificate id); replace it in the stack file",
        )
    if isinstance(domain, str):
        require(
            not _EXAMPLE_DOMAIN.search(domain),
            "domain_name",
            domain,
            "your own DNS name, covered by the certificate: names under example.com, example.net, example.org "
            "and .example are reserved for documentation (RFC 2606); replace the placeholder in the stack file",
        )


def check_network(given: Mapping[str, Any]) -> None:
    if "vpc_cidr" in given:
        network = _ipv4_network("vpc_cidr", given["vpc_cidr"])
        require(16 <= network.prefixlen <= 24, "vpc_cidr", given["vpc_cidr"], "a prefix from /16 to /24")
    allowed_cidrs = given.get("allowed_cidrs")
    if allowed_cidrs is not None:
        require(len(allowed_cidrs) > 0, "allowed_cidrs", allowed_cidrs, "at least one CIDR block, e.g. 203.0.113.7/32")
        for index, cidr in enumerate(allowed_cidrs):
            _ipv4_network(f"allowed_cidrs[{index}]", cidr)
    _check_existing_vpc(given)
    _check_pattern(
        given, "certificate_arn", _CERTIFICATE_ARN, "an ACM certificate ARN: arn:aws:acm:REGION:ACCOUNT:certificate/ID"
    )
    _check_pattern(
        given, "domain_name", _DOMAIN_NAME, "a lowercase DNS name such as airflow.example.com, without scheme or path"
    )
    _check_not_placeholder(given)
    _check_no_open_door(given)


def _check_build_context(given: Mapping[str, Any]) -> None:
    """Without a pushed image, the image is built: its DAGs and Dockerfile must be there now, not minutes into
    `pulumi up` (airflow_celery/aws/build_context.py assembles the context)."""
    if "image" in given:
        return
    from airflow_celery.aws import build_context

    found = build_context.sources(given.get("build_context"))
    lacking = build_context.missing(found, given.get("dockerfile", DEFAULTS["dockerfile"]))
    key = "build_context" if given.get("build_context") or str(found.dags) in lacking else "dockerfile"
    require(
        not lacking,
        key,
        given.get(key),
        f"a directory holding dags/ (and optionally image/Dockerfile); missing: {', '.join(lacking)}; relative "
        "paths are taken from the program's directory, or give a pushed `image` by digest instead",
    )


def check_image(given: Mapping[str, Any]) -> None:
    image = given.get("image")
    if not isinstance(image, str):
        _check_build_context(given)
        return
    match = _IMAGE.fullmatch(image)
    require(
        match is not None and match["digest"] is not None,
        "image",
        image,
        "an image pinned by digest, name@sha256:<64 hex digits> (a tag may precede it): a tag alone can move, "
        "and every role must run the same code; `docker buildx imagetools inspect NAME:TAG` prints the digest",
    )


def worker_counts(given: Mapping[str, Any]) -> tuple[int, int, int]:
    """Desired, min and max workers. Unset min and max follow the count; an unset count is 1, kept within them."""
    minimum, maximum = given.get("worker_min_count"), given.get("worker_max_count")
    count = given.get("worker_count")
    if count is None:
        count = max(DEFAULTS["worker_count"], minimum or 0)
        count = min(count, maximum) if maximum is not None else count
    minimum = count if minimum is None else minimum
    maximum = count if maximum is None else maximum
    require(minimum <= count, "worker_min_count", minimum, f"at most worker_count ({count})")
    require(count <= maximum, "worker_max_count", maximum, f"at least worker_count ({count})")
    require(maximum >= 1, "worker_max_count", maximum, "at least 1: without a worker no task ever runs")
    return count, minimum, maximum


def check_hibernation(schedule: Mapping[str, Any] | None) -> None:
    if schedule is None:
        return
    import zoneinfo

    for arg in HIBERNATION.fields:
        check_declared(schedule, arg, "hibernation.")
    merged = HIBERNATION.defaults | dict(schedule)
    require(
        merged["wake"] < merged["sleep"],
        "hibernation.sleep",
        merged["sleep"],
        f"an hour after wake ({merged['wake']}) and at most 23",
    )
    require(
        merged["timezone"] in zoneinfo.available_timezones(),
        "hibernation.timezone",
        merged["timezone"],
        "an IANA timezone such as UTC or Europe/Berlin",
    )


def check_role_capacity(capacities: Mapping[str, Any]) -> None:
    for role_name, capacity in capacities.items():
        key = f"role_capacity.{role_name}"
        if role_name == WORKER.name:
            raise ConfigError(key, capacity, "set worker_capacity instead (it also offers 'mixed')")
        require(
            role_name in SPOT_ROLES,
            key,
            capacity,
            f"a role among {', '.join(SPOT_ROLES)} (Redis stays on-demand: a reclaimed broker loses its queue)",
        )
        require(capacity in ROLE_CAPACITIES, key, capacity, f"one of {', '.join(ROLE_CAPACITIES)}")


def check_broker(given: Mapping[str, Any]) -> None:
    _check_pattern(given, "redis_node_type", _NODE_TYPE, "an ElastiCache node type such as cache.t4g.small")


def _check_max_allocated_storage(given: Mapping[str, Any]) -> None:
    """RDS storage autoscaling: 0 (off), or a ceiling at least the allocated size (ModifyDBInstance
    MaxAllocatedStorage)."""
    ceiling = given.get("db_max_allocated_storage")
    if ceiling is None:
        return
    allocated = given.get("db_allocated_storage", DEFAULTS["db_allocated_storage"])
    require(
        ceiling == 0 or allocated <= ceiling <= 65536,
        "db_max_allocated_storage",
        ceiling,
        f"0 (storage autoscaling off) or a size in GiB from db_allocated_storage ({allocated}) to 65536",
    )


def check_database(given: Mapping[str, Any]) -> None:
    _check_choice(
        given,
        "db_instance_class",
        tuple(INSTANCE_CLASS_MEMORY_GIB),
        "RDS PostgreSQL classes whose memory the connection budget knows (burstable t3/t4g, m5-m7, r5-r7)",
    )
    _check_max_allocated_storage(given)
    version = given.get("db_engine_version")
    if version is not None:
        match = _ENGINE_VERSION.fullmatch(version)
        require(
            match is not None and int(match["major"]) in POSTGRES_MAJORS,
            "db_engine_version",
            version,
            f"a supported PostgreSQL major version, {POSTGRES_MAJORS[0]}-{POSTGRES_MAJORS[-1]} (e.g. '16' or '16.4')",
        )


def _check_sized_role(role_name: str, override: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    key = f"role_sizes.{role_name}"
    if role_name not in FARGATE_ROLES:
        shares = role(role_name).runs_with if role_name in ROLES_BY_NAME else None
        note = f"{role_name} runs inside the {shares} task, so size {shares} instead; " if shares else ""
        raise ConfigError(key, override, f"{note}roles with a Fargate size are: {', '.join(FARGATE_ROLES)}")
    if role_name == REDIS.name and given.get("redis_mode") == "elasticache":
        raise ConfigError(key, override, "only used when redis_mode is 'fargate'; set redis_node_type instead")
    require(len(override) > 0, key, override, "a mapping with cpu and/or memory")


def role_sizes(given: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Every Fargate role's (cpu, memory): the description's default, overridden per role and checked."""
    overrides = given.get("role_sizes", {})
    sizes = {}
    for role_name, override in overrides.items():
        _check_sized_role(role_name, override, given)
    for role_name in FARGATE_ROLES:
        default = role(role_name).size
        override = overrides.get(role_name, {})
        cpu, memory = override.get("cpu", default.cpu), override.get("memory", default.memory)
        require(
            is_fargate_size(cpu, memory),
            f"role_sizes.{role_name}",
            {"cpu": cpu, "memory": memory},
            f"a size Fargate runs: {describe_allowed(cpu)}",
        )
        sizes[role_name] = (cpu, memory)
    return sizes


def check_tags(tags: Mapping[str, str]) -> None:
    require(len(tags) <= MAX_TAGS, "tags", f"{len(tags)} tags", f"at most {MAX_TAGS} tags (AWS allows 50)")
    for key, value in tags.items():
        key_ok = 1 <= len(key) <= 128 and _TAG_TEXT.fullmatch(key) is not None
        require(key_ok, f"tags.{key}", key, f"a tag key of 1-128 characters: {_TAG_CHARSET}")
        require(
            not key.lower().startswith("aws:"), f"tags.{key}", key, "a key not starting with the reserved prefix aws:"
        )
        value_ok = len(value) <= 256 and _TAG_TEXT.fullmatch(value) is not None
        require(value_ok, f"tags.{key}", value, f"a tag value of at most 256 characters: {_TAG_CHARSET}")


def check_accounts(given: Mapping[str, Any]) -> None:
    """Who logs in and who is told: the admin's username and the alarms' email address."""
    _check_pattern(given, "admin_username", _ADMIN_USERNAME, "a letter, then up to 63 letters, digits, '_', '.' or '-'")
    _check_pattern(given, "alarm_email", _EMAIL, "an email address such as ops@example.com")


def check_notifications(given: Mapping[str, Any]) -> None:
    """DAG failure notifications go to the alarms' SNS topic, which only monitoring creates: one topic to subscribe
    to, one place that pages, rather than a second topic that exists for this alone."""
    if given.get("dag_failure_notifications") and not given.get("monitoring", DEFAULTS["monitoring"]):
        raise ConfigError(
            "dag_failure_notifications",
            True,
            "true only with monitoring on (its failure messages go to the alarms' SNS topic, <name>-alarms, which "
            "monitoring creates): set monitoring: true, or leave dag_failure_notifications off",
        )


def check_dag_source(given: Mapping[str, Any]) -> None:
    """The dag_* arguments together (a git source needs its repository, an s3 one no git keys...), checked by
    aws/dag_source.py against the description's rules (cluster/dag_source.py)."""
    from airflow_celery.aws.dag_source import DagArgError, dag_source_of

    try:
        dag_source_of(given)
    except DagArgError as error:
        raise ConfigError(error.key, error.value, error.allowed) from None
