"""The component's arguments: a TypedDict for users, and the validated form the renderer reads.

Every check happens in `resolve_args`, before the component registers anything, and each failure is
one ConfigError naming the field, the value and what is allowed.
"""

import difflib
import inspect
import ipaddress
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Union, get_args, get_origin, is_typeddict

import pulumi

from airflow_celery.aws.rds_limits import INSTANCE_CLASS_MEMORY_GIB, max_connections, smallest_class_for
from airflow_celery.aws.worker_queues import WorkerQueueArgs, queue_slots, resolve_worker_queues
from airflow_celery.cluster import ROLES, ROLES_BY_NAME, Kind, is_fargate_size, role
from airflow_celery.cluster.fargate import describe_allowed
from airflow_celery.cluster.housekeeping import DEFAULT_RETENTION_DAYS, RETENTION_RANGE
from airflow_celery.cluster.limits import (
    DEFAULT_DB_MAX_OVERFLOW,
    DEFAULT_DB_POOL_SIZE,
    MAX_API_SERVERS,
    MAX_SCHEDULERS,
    MAX_TRIGGERERS,
    MEMORY_USABLE_SHARE,
    SLOT_MEMORY_MIB,
    Capacity,
    connection_budget,
    execution_api_cores,
    health_checked_memory_needed,
    max_worker_concurrency,
    min_api_server_vcpu,
    min_heartbeat_interval,
    parallelism,
)
from airflow_celery.cluster.measured import (
    JOBS_CHECK_MEMORY_MIB,
    MEASURED_ON,
    WORKER_MAIN_MEMORY_MIB,
)
from airflow_celery.cluster.queues import WorkerQueue
from airflow_celery.cluster.reliability import (
    DEFAULT_TASK_RETRIES,
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_RETRIES_RANGE,
    TASK_RETRY_DELAY_RANGE,
)
from airflow_celery.cluster.roles import API_SERVER, DAG_PROCESSOR, REDIS, TRIGGERER, WORKER
from airflow_celery.cluster.scaling import DEFAULT_SCALE_IN_COOLDOWN


class ConfigError(ValueError):
    """A bad argument or stack config value: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


class RedisMode(StrEnum):
    """Where the Celery broker (Redis) runs."""

    FARGATE = "fargate"
    """A Redis container on Fargate: the cheap default."""
    ELASTICACHE = "elasticache"
    """An ElastiCache replication group with TLS and an AUTH token."""


class RoleSizeArgs(TypedDict, total=False):
    """A Fargate task size for one role. Either field may be left out: it keeps the role's default."""

    cpu: int
    """CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384."""
    memory: int
    """Memory in MiB; must be a size Fargate allows with `cpu`."""


# The annotations below are read at run time twice: by resolve_args (the checks) and by Pulumi's schema inference
# (airflow_celery/aws/provider.py, for every other Pulumi language), which accepts neither `Literal` nor unions
# other than pulumi.Input; hence no `from __future__ import annotations` in this module. Type checkers still see
# the plain strings Python callers have always passed.
if TYPE_CHECKING:
    RedisModeArg = RedisMode | Literal["fargate", "elasticache"]
else:
    RedisModeArg = RedisMode


class HibernationArgs(TypedDict, total=False):
    """Working hours: the cluster runs from wake to sleep on `days`, and sleeps otherwise."""

    days: str
    """The days it wakes: "MON-FRI" (the default), "MON-SAT" or "SUN-SAT"."""
    wake: int
    """Hour (0-23) every service starts again, and the database. Default 7."""
    sleep: int
    """Hour (1-23, after `wake`) every service scales to zero and the database stops. Default 19."""
    timezone: str
    """IANA timezone of the hours, e.g. "Europe/Berlin". Default "UTC"."""


@dataclass(frozen=True)
class Hibernation:
    days: str = "MON-FRI"
    wake: int = 7
    sleep: int = 19
    timezone: str = "UTC"

    @property
    def awake_hours_per_week(self) -> int:
        return (self.sleep - self.wake) * HIBERNATION_DAYS[self.days]


HIBERNATION_DAYS = {"MON-FRI": 5, "MON-SAT": 6, "SUN-SAT": 7}
"""Day ranges a schedule may wake on, and how many days each is. None leaves a gap longer than the 7 days after
which RDS starts a stopped instance by itself."""


class AirflowCeleryClusterArgs(TypedDict, total=False):
    """Arguments of AirflowCeleryCluster. Every field is optional; the defaults make a small dev cluster."""

    vpc_id: pulumi.Input[str]
    """An existing VPC to deploy into. Give `public_subnet_ids` and `private_subnet_ids` with it.
    Without it, a VPC is created across 2 availability zones with public and private subnets and NAT."""
    public_subnet_ids: list[pulumi.Input[str]]
    """Subnets of `vpc_id` for the load balancer (at least 2, in different availability zones)."""
    private_subnet_ids: list[pulumi.Input[str]]
    """Subnets of `vpc_id` for the tasks, the database and Redis (at least 2). Tasks get no public IP."""
    vpc_cidr: str
    """CIDR block of the VPC created when `vpc_id` is not given. Default 10.0.0.0/16; /16 to /24."""
    nat_per_zone: bool
    """One NAT gateway in each availability zone, so losing a zone leaves the other its way out (ECR, Secrets
    Manager, CloudWatch). Default False: one NAT gateway for both zones (dev). Only for a VPC created here."""
    interface_endpoints: bool
    """Interface VPC endpoints for ECR (api, dkr), Secrets Manager and CloudWatch Logs, so task starts do not
    depend on a NAT gateway. Default False (they cost per zone and hour; `plan` prices them). Only for a VPC
    created here; the S3 gateway endpoint (free) is always created there."""
    allowed_cidrs: list[str]
    """CIDR blocks that may reach the load balancer on 443 and 80. When every block is private (RFC 1918), the load
    balancer is internal, in the private subnets; otherwise internet-facing. Default: the created VPC's own
    vpc_cidr (an internal load balancer nobody outside the VPC reaches); required with vpc_id, and in a production
    stack (db_deletion_protection or certificate_arn), where 0.0.0.0/0 is refused."""
    flower_on_load_balancer: bool
    """Serve Flower (which can revoke tasks and shut workers down) on the load balancer at /flower/, behind basic
    auth. Default False: Flower is reached only through an ECS Exec port forward (README, "Reaching the UI")."""
    certificate_arn: pulumi.Input[str]
    """ACM certificate ARN for HTTPS on the load balancer. Without it the UI is served over plain HTTP,
    with a loud warning."""
    domain_name: str
    """The DNS name people open the UI at, e.g. airflow.example.com: a record you point at the load balancer,
    covered by the certificate. Airflow's base URL and the outputs use it; without it they use the load
    balancer's own name, which no certificate can cover."""
    image: pulumi.Input[str]
    """A pushed image to run instead of building `image/`, pinned by digest (name@sha256:...; a tag may precede
    the digest). A tag alone is refused: it can move, and every role must run the same code."""
    build_context: str
    """A directory holding dags/ (and, to change the image, image/ with its Dockerfile and requirements.txt):
    the DAGs baked into the image. Relative to the program's directory. Default: the project this package was
    loaded from (its own image/ and dags/). The package's entrypoint files are added to the build either way."""
    dockerfile: str
    """Dockerfile path, relative to the directory holding image/. Default "image/Dockerfile"."""
    ecr_force_delete: bool
    """Let `pulumi destroy` delete the ECR repository with its images. Default False."""
    worker_count: int
    """Workers at the first deploy. Default 1; between worker_min_count and worker_max_count. With autoscaling
    (min < max) later deploys leave the running count alone: the autoscaler owns it."""
    worker_min_count: int
    """Fewest workers the autoscaler may scale in to; 0 lets an idle cluster run no worker. Default: worker_count."""
    worker_max_count: int
    """Most workers the autoscaler may scale out to. Default: worker_count. With min < max, workers follow the
    queue: ceil((queued + running) / worker_concurrency)."""
    worker_scale_in_cooldown: int
    """Seconds a lower worker count must be wanted before workers are stopped, 60-3600. Default 300."""
    worker_capacity: str
    """Where workers run: "fargate" (on-demand, the default), "fargate-spot" (AWS advertises up to 70 % off; a reclaimed
    worker gets SIGTERM and 120 s) or "mixed" (worker_min_count on-demand, the rest Spot)."""
    role_capacity: dict[str, str]
    """Where each other Airflow service runs, keyed by role (api-server, scheduler, dag-processor, triggerer,
    flower): "fargate" (on-demand, the default) or "fargate-spot" (cheaper; a reclaimed task gets SIGTERM and
    120 s, and ECS starts a new one). Workers use worker_capacity. Redis is not offered: a reclaimed broker takes
    its queue with it."""
    cpu_architecture: str
    """"X86_64" (the default) or "ARM64" (Graviton, about 20 % cheaper on Fargate) for every role; the image is
    built for that platform (building ARM64 on an x86 machine needs Docker's QEMU emulation)."""
    hibernation: HibernationArgs
    """Scale every service to zero outside working hours and stop the database with it (App Auto Scaling scheduled
    actions, EventBridge Scheduler); ElastiCache, the load balancer and NAT keep running. Unset: always on.
    `plan` prices both."""
    container_insights: bool
    """ECS Container Insights on the cluster (per-task CPU, memory and network metrics). Default True; its
    metrics are billed as CloudWatch custom metrics, which `plan` counts."""
    worker_concurrency: int
    """Task slots per worker (AIRFLOW__CELERY__WORKER_CONCURRENCY), 1-256. Default 16. `[core] parallelism`
    and the default pool follow: worker_max_count x worker_concurrency."""
    default_task_retries: int
    """Retries of a task that sets no `retries` itself ([core] default_task_retries), 0-10. Default 2: a task on
    a worker that is lost (Spot, scale-in, OOM) is failed after the heartbeat timeout and then retried, instead of
    failing its run. Tasks that must not run twice set `retries=0` themselves."""
    default_task_retry_delay_seconds: int
    """Seconds between those tries ([core] default_task_retry_delay), 0-86400. Default 15."""
    api_server_count: int
    """api-server tasks, 1-10. Default 1; 2 or more survive the loss of one, which every running task needs
    (its heartbeats go through the api-server's Task Execution API)."""
    scheduler_count: int
    """Scheduler tasks, 1-4 (Airflow runs several schedulers on PostgreSQL). Default 1."""
    triggerer_count: int
    """Triggerer tasks, 1-10. Default 1."""
    db_pool_size: int
    """Connections each Airflow process's SQLAlchemy engine keeps open ([database] sql_alchemy_pool_size),
    1-50. Default 5."""
    db_max_overflow: int
    """Extra connections an engine may open under load ([database] sql_alchemy_max_overflow), 0-50. Default 3."""
    role_sizes: dict[str, RoleSizeArgs]
    """Per-role Fargate size overrides, keyed by role name (api-server, scheduler, dag-processor,
    triggerer, worker, flower, migrate, redis). Defaults come from the cluster description."""
    log_retention_days: int
    """CloudWatch log retention for every role, one of the values CloudWatch allows. Default 30."""
    redis_mode: RedisModeArg
    """Run the broker as a Fargate service ("fargate", the cheap default) or as an ElastiCache
    replication group with TLS and an AUTH token ("elasticache")."""
    redis_node_type: str
    """ElastiCache node type when redis_mode is "elasticache". Default cache.t4g.small."""
    db_instance_class: str
    """RDS instance class. Default db.t4g.small."""
    db_allocated_storage: int
    """RDS storage in GiB, 20-65536. Default 20."""
    db_engine_version: str
    """RDS PostgreSQL major version, 15-17. Default "16"."""
    db_allow_major_version_upgrade: bool
    """Let this `pulumi up` change db_engine_version's major version (16 -> 17). Default False: RDS then refuses a
    major change, so an edited version can never upgrade a production database by surprise. Set it for the
    upgrade, and back to false after."""
    db_max_allocated_storage: int
    """Most GiB RDS storage autoscaling may grow to, from db_allocated_storage to 65536; 0 turns it off.
    Default 4 x db_allocated_storage."""
    db_multi_az: bool
    """Run RDS in multi-AZ mode. Default False."""
    db_deletion_protection: bool
    """Turn on RDS deletion protection. Default False."""
    db_skip_final_snapshot: bool
    """Skip the final snapshot when the database is destroyed. Default False (a snapshot is kept)."""
    db_backup_retention_days: int
    """Days of automated RDS backups, 1-35 (backups are always on). Default 7."""
    apply_immediately: bool
    """Apply RDS and ElastiCache changes (instance class, storage, engine version) during `pulumi up` instead
    of in the next maintenance window. Default False: a production database changes in its window."""
    admin_username: str
    """Username of the Airflow admin (and of Flower's basic auth). Default "admin"."""
    task_log_store: str
    """Where task logs go: "cloudwatch" (the default: streamed every 2 s while the task runs, so a SIGKILLed or
    reclaimed worker keeps its lines; read back by the UI) or "s3" (uploaded when the task ends: a killed worker's
    log is lost)."""
    db_clean_retention_days: int
    """Days of history the daily `airflow db clean` task keeps (runs, task instances, XComs, logs, jobs, Celery
    results), 1-3650. Default 30."""
    monitoring: bool
    """A CloudWatch dashboard, alarms with an SNS topic, and a failed-task metric (README "Operating the cluster").
    Default True; on a hibernating stack the alarms' actions are off while it sleeps. `plan` prices it."""
    alarm_email: str
    """An email address subscribed to the alarms' SNS topic (AWS mails it a confirmation link once). Unset: the
    topic has no subscriber; subscribe a pager or chat hook to it yourself."""
    tags: dict[str, str]
    """Tags added to every taggable resource."""
    worker_queues: dict[str, WorkerQueueArgs]
    """More pools of workers, keyed by Celery queue name (1-12 lowercase letters, digits, hyphens), each consuming
    only its queue, with its own size, slots, count range, capacity and IAM (README "Worker queues"). Tasks choose
    one with `queue="<name>"`; the rest run on the `default` queue, which the worker_* keys size. Unset: one pool."""


@dataclass(frozen=True)
class ClusterConfig:
    """The validated arguments, with every default filled in. The renderer reads only this."""

    name: str
    vpc_id: str | None = None
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()
    vpc_cidr: str = "10.0.0.0/16"
    nat_per_zone: bool = False
    interface_endpoints: bool = False
    allowed_cidrs: tuple[str, ...] = ()
    flower_on_load_balancer: bool = False
    certificate_arn: str | None = None
    domain_name: str | None = None
    image: str | None = None
    build_context: str | None = None
    dockerfile: str = "image/Dockerfile"
    ecr_force_delete: bool = False
    worker_count: int = 1
    worker_min_count: int = 1
    worker_max_count: int = 1
    worker_scale_in_cooldown: int = DEFAULT_SCALE_IN_COOLDOWN
    worker_capacity: str = "fargate"
    role_capacity: dict[str, str] = field(default_factory=dict)
    cpu_architecture: str = "X86_64"
    container_insights: bool = True
    hibernation: Hibernation | None = None
    worker_concurrency: int = 16
    default_task_retries: int = DEFAULT_TASK_RETRIES
    default_task_retry_delay_seconds: int = DEFAULT_TASK_RETRY_DELAY_SECONDS
    api_server_count: int = 1
    scheduler_count: int = 1
    triggerer_count: int = 1
    db_pool_size: int = DEFAULT_DB_POOL_SIZE
    db_max_overflow: int = DEFAULT_DB_MAX_OVERFLOW
    role_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Role name -> (cpu, memory), for every role that runs on Fargate."""
    log_retention_days: int = 30
    redis_mode: RedisMode = RedisMode.FARGATE
    redis_node_type: str = "cache.t4g.small"
    db_instance_class: str = "db.t4g.small"
    db_allocated_storage: int = 20
    db_engine_version: str = "16"
    db_allow_major_version_upgrade: bool = False
    db_max_allocated_storage: int | None = None
    db_multi_az: bool = False
    db_deletion_protection: bool = False
    db_skip_final_snapshot: bool = False
    db_backup_retention_days: int = 7
    apply_immediately: bool = False
    admin_username: str = "admin"
    task_log_store: str = "cloudwatch"
    db_clean_retention_days: int = DEFAULT_RETENTION_DAYS
    monitoring: bool = True
    alarm_email: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    worker_queues: tuple[WorkerQueue, ...] = ()
    """The extra queues (aws/worker_queues.py), in name order; the default queue is the worker_* fields."""

    @property
    def capacity(self) -> Capacity:
        """Process counts at the most, for the limits derived in cluster/limits.py."""
        return Capacity(
            api_servers=self.api_server_count,
            api_workers=API_WORKERS,
            schedulers=self.scheduler_count,
            triggerers=self.triggerer_count,
            max_workers=self.worker_max_count,
            worker_concurrency=self.worker_concurrency,
            db_pool_size=self.db_pool_size,
            db_max_overflow=self.db_max_overflow,
            extra_queues=queue_slots(self.worker_queues),
        )

    @property
    def autoscaling(self) -> bool:
        """The default queue's workers follow it when they may vary: Application Auto Scaling is on for them."""
        return self.worker_min_count < self.worker_max_count

    @property
    def any_autoscaling(self) -> bool:
        """Some queue's workers may vary: the autoscaler sidecar runs and publishes."""
        return self.autoscaling or any(q.autoscaling for q in self.worker_queues)

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def load_balancer_cidrs(self) -> tuple[str, ...]:
        """Who may reach the load balancer: allowed_cidrs, or the created VPC's own range."""
        return self.allowed_cidrs or (self.vpc_cidr,)

    @property
    def internal_load_balancer(self) -> bool:
        """Internal (private subnets, no public address) when nobody outside private address space may reach it."""
        return all(_is_vpc_private(cidr) for cidr in self.load_balancer_cidrs)


VPC_PRIVATE_RANGES = tuple(
    ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
"""The ranges a VPC, a VPN or a peered network uses (RFC 1918, and RFC 6598 that VPCs accept as well). Python's
`is_private` would also count the documentation ranges, which stand for public addresses."""


def _is_vpc_private(cidr: str) -> bool:
    network = ipaddress.ip_network(cidr)
    return any(network.subnet_of(private) for private in VPC_PRIVATE_RANGES)


# --- validation ---------------------------------------------------------------------------------------------

MAX_NAME_LENGTH = 20
"""Every physical name derives from the component's name, and Pulumi's auto-naming adds 8 characters to it. AWS
caps load balancer names at 32 characters and ElastiCache replication-group ids at 40, and the provider does not
shorten a name that is too long: it fails the deploy. With 20, "<name>-alb" and "<name>-redis" fit (target
groups use short name prefixes instead), as do the RDS identifier (63), ECR repository and Cloud Map rules;
tests/aws/test_names.py checks every length-capped resource at this maximum."""
_NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*")  # a hyphen must be followed by a letter/digit
MAX_WORKERS = 100
"""A sane cap on workers: each is a Fargate task holding database connections (RDS max_connections)."""
MAX_TAGS = 40
"""AWS allows 50 tags per resource; the rest are left for the component's own tags."""
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
POSTGRES_MAJORS = range(15, 18)
"""From 15, PUBLIC may no longer CREATE in schema public, so the result backend's role (entrypoint.py,
provision_result_backend) gets row access to Celery's tables and nothing else; 13 and 14 are past or at the
PostgreSQL community's end of life."""

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


def arg_annotations() -> dict[str, Any]:
    """Each argument's annotation as declared, pulumi.Input[...] included."""
    return inspect.get_annotations(AirflowCeleryClusterArgs)


def arg_types() -> dict[str, Any]:
    """Each argument's plain type: its annotation with pulumi.Input[T] read as T (list[Input[str]] -> list[str])."""
    return {key: plain_type(annotation) for key, annotation in arg_annotations().items()}


def input_of(annotation: Any) -> Any | None:
    """T for a pulumi.Input[T] (T, Awaitable[T] or an Output of T: a value that may be known only at deploy time)."""
    if get_origin(annotation) is Union:
        awaited = [get_args(arg)[0] for arg in get_args(annotation) if get_origin(arg) is Awaitable]
        if awaited:
            return awaited[0]
    return None


def plain_type(annotation: Any) -> Any:
    """The annotation without its pulumi.Input wrappers."""
    inner = input_of(annotation)
    if inner is not None:
        return plain_type(inner)
    if get_origin(annotation) is list:
        return list[plain_type(get_args(annotation)[0])]
    return annotation


def resolve_args(name: str, args: AirflowCeleryClusterArgs | Mapping[str, Any] | None) -> ClusterConfig:
    """Validate `args` for a component called `name` and fill in the defaults; raise one ConfigError.

    Called before the component registers anything, so a bad value costs nothing: no resource is created.
    """
    _check_name(name)
    given = _check_shape(args)
    _check_network(given)
    _check_image(given)
    worker_count, worker_min, worker_max = _worker_counts(given)
    _check_int_range(given, "worker_concurrency", 1, 256)
    _check_int_range(given, "default_task_retries", *TASK_RETRIES_RANGE, " (tries after the first)")
    _check_int_range(given, "default_task_retry_delay_seconds", *TASK_RETRY_DELAY_RANGE,
                     " seconds (Airflow's max_task_retry_delay)")  # fmt: skip
    _check_int_range(given, "worker_scale_in_cooldown", 60, 3600, " seconds")
    _check_choice(given, "worker_capacity", WORKER_CAPACITIES, "places workers run")
    _check_role_capacity(given.get("role_capacity", {}))
    _check_hibernation(given.get("hibernation"))
    _check_choice(given, "cpu_architecture", CPU_ARCHITECTURES, "CPU architectures Fargate runs Linux tasks on")
    _check_counts(given)
    _check_choice(given, "log_retention_days", CLOUDWATCH_RETENTION_DAYS, "days CloudWatch Logs allows")
    _check_broker(given)
    _check_database(given)
    _check_pattern(given, "admin_username", _ADMIN_USERNAME, "a letter, then up to 63 letters, digits, '_', '.' or '-'")
    _check_choice(given, "task_log_store", ("cloudwatch", "s3"), "places task logs go")
    _check_int_range(given, "db_clean_retention_days", *RETENTION_RANGE, " days")
    _check_pattern(given, "alarm_email", _EMAIL, "an email address such as ops@example.com")
    _check_tags(given.get("tags", {}))
    role_sizes = _role_sizes(given)
    worker_queues = resolve_worker_queues(given, role_sizes[WORKER.name], given.get("worker_concurrency", 16))
    config = ClusterConfig(
        name=name,
        **{key: _frozen(value) for key, value in given.items() if key not in _DERIVED},
        worker_count=worker_count,
        worker_min_count=worker_min,
        worker_max_count=worker_max,
        role_sizes=role_sizes,
        worker_queues=worker_queues,
        redis_mode=RedisMode(given.get("redis_mode", RedisMode.FARGATE)),
        hibernation=Hibernation(**given["hibernation"]) if "hibernation" in given else None,
    )
    _check_worker_density(config)
    _check_health_checked_memory(config)
    _check_connection_budget(config)
    _check_execution_api_cpu(config)
    return config


_DERIVED = frozenset(
    {"worker_count", "worker_min_count", "worker_max_count", "role_sizes", "redis_mode", "hibernation"}
    | {"worker_queues"}
)


def _frozen(value: Any) -> Any:
    """Lists become tuples (ClusterConfig is frozen); mappings are copied."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


# --- shape: known keys and types ----------------------------------------------------------------------------


def _check_name(name: object) -> None:
    allowed = (
        f"lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen, "
        f"at most {MAX_NAME_LENGTH} characters (AWS caps load balancer and target group names at 32, and the "
        f"component adds suffixes such as '-flower' to it)"
    )
    if not isinstance(name, str):
        raise ConfigError("name", name, allowed)
    if len(name) > MAX_NAME_LENGTH or not _NAME_PATTERN.fullmatch(name):
        raise ConfigError("name", name, allowed)


def _check_shape(args: object) -> dict[str, Any]:
    """The given arguments, after checking that every key is known and every value has the declared type."""
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise ConfigError("args", args, "a dict of AirflowCeleryClusterArgs (or None for the defaults)")
    types = arg_annotations()
    for key, value in args.items():
        if key not in types:
            raise ConfigError(str(key), value, _unknown_key_hint(str(key), types))
        _check_type(key, value, types[key])
    return dict(args)


def _unknown_key_hint(key: str, known: Mapping[str, Any]) -> str:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()
    close = [snake] if snake in known else difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return f"not an argument of AirflowCeleryCluster; {suggestion}the arguments are: {', '.join(known)}"


def _is_output(value: object) -> bool:
    return isinstance(value, pulumi.Output)


def _check_type(key: str, value: object, expected: Any) -> None:
    """Check `value` against an annotation of AirflowCeleryClusterArgs; a pulumi.Input may be an Output."""
    inner = input_of(expected)
    if inner is not None:
        if not _is_output(value):
            _check_type(key, value, inner)
        return  # an Output: its value is known only at deploy time, and its format is checked there by AWS
    origin = get_origin(expected)
    if expected is bool:
        _require(isinstance(value, bool), key, value, "true or false (a bool, not a string or a number)")
    elif expected is int:
        _require(isinstance(value, int) and not isinstance(value, bool), key, value, _int_hint(value))
    elif expected is str:
        _require(isinstance(value, str) and value.strip() != "", key, value, "a non-empty string")
    elif isinstance(expected, type) and issubclass(expected, StrEnum):
        _require(value in list(expected), key, value, f"one of {', '.join(repr(str(m)) for m in expected)}")
    elif origin is list:
        _check_list(key, value, get_args(expected)[0])
    elif origin is dict:
        _check_dict(key, value, get_args(expected)[1])
    elif is_typeddict(expected):
        _check_typed_dict(key, value, expected)
    else:  # pragma: no cover - a new annotation in AirflowCeleryClusterArgs needs a branch here
        raise TypeError(f"resolve_args cannot check the type {expected!r} of {key}")


def _int_hint(value: object) -> str:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return f"a whole number, not the string {value!r} (write {value.strip()} without quotes)"
    if isinstance(value, bool):
        return "a whole number, not a bool"
    return "a whole number"


def _check_list(key: str, value: object, item_type: Any) -> None:
    if _is_output(value):
        raise ConfigError(key, value, "a list whose items may be Outputs, not one Output of a whole list")
    _require(isinstance(value, list | tuple), key, value, "a list of strings")
    for index, item in enumerate(value):  # type: ignore[arg-type]
        _check_type(f"{key}[{index}]", item, item_type)


def _check_dict(key: str, value: object, value_type: Any) -> None:
    _require(isinstance(value, Mapping), key, value, "a mapping")
    for item_key, item in value.items():  # type: ignore[union-attr]
        _require(isinstance(item_key, str), key, item_key, "a mapping with string keys")
        _check_type(f"{key}.{item_key}", item, value_type)


def _check_typed_dict(key: str, value: object, expected: Any) -> None:
    fields = inspect.get_annotations(expected)
    _require(isinstance(value, Mapping), key, value, f"a mapping with the keys {', '.join(fields)}")
    for item_key, item in value.items():  # type: ignore[union-attr]
        if item_key not in fields:
            raise ConfigError(f"{key}.{item_key}", item, f"unknown key; allowed keys are {', '.join(fields)}")
        _check_type(f"{key}.{item_key}", item, fields[item_key])


def _require(condition: bool, key: str, value: object, allowed: str) -> None:
    if not condition:
        raise ConfigError(key, value, allowed)


# --- values -------------------------------------------------------------------------------------------------


def _check_int_range(given: Mapping[str, Any], key: str, low: int, high: int, why: str = "") -> None:
    if key in given:
        value = given[key]
        _require(low <= value <= high, key, value, f"a whole number from {low} to {high}{why}")


def _check_choice(given: Mapping[str, Any], key: str, choices: tuple[Any, ...], what: str) -> None:
    if key in given:
        _require(given[key] in choices, key, given[key], f"one of the {what}: {', '.join(map(str, choices))}")


def _check_pattern(given: Mapping[str, Any], key: str, pattern: re.Pattern[str], allowed: str) -> None:
    value = given.get(key)
    if isinstance(value, str):
        _require(pattern.fullmatch(value) is not None, key, value, allowed)


def _check_network(given: Mapping[str, Any]) -> None:
    if "vpc_cidr" in given:
        network = _ipv4_network("vpc_cidr", given["vpc_cidr"])
        _require(16 <= network.prefixlen <= 24, "vpc_cidr", given["vpc_cidr"], "a prefix from /16 to /24")
    allowed_cidrs = given.get("allowed_cidrs")
    if allowed_cidrs is not None:
        _require(len(allowed_cidrs) > 0, "allowed_cidrs", allowed_cidrs, "at least one CIDR block, e.g. 203.0.113.7/32")
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


DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(r) for r in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
"""RFC 5737's ranges, reserved for documentation: a stack file's example, never someone's office."""
PRODUCTION_SIGNS = ("db_deletion_protection", "certificate_arn")
"""A stack that protects its database from deletion or serves HTTPS is treated as production."""


def _production_sign(given: Mapping[str, Any]) -> str | None:
    return next((key for key in PRODUCTION_SIGNS if given.get(key)), None)


def _check_no_open_door(given: Mapping[str, Any]) -> None:
    """Production names who may reach it, and never the whole internet; a given VPC names it too (the default,
    the created VPC's own range, does not exist there)."""
    cidrs = given.get("allowed_cidrs")
    sign = _production_sign(given)
    if cidrs is None:
        why = f"{sign} is set, so this stack is treated as production" if sign else "vpc_id is given"
        _require(
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
        _require(
            not any(ipaddress.ip_network(cidr).subnet_of(r) for r in DOCUMENTATION_RANGES),
            f"allowed_cidrs[{index}]",
            cidr,
            "your own offices' or VPN's ranges: this is a placeholder (an RFC 5737 documentation range); replace it "
            "in the stack file",
        )
        _require(
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
        _require(
            account != EXAMPLE_ACCOUNT and set(certificate_id) != {"0", "-"},
            "certificate_arn",
            arn,
            "the ARN of your own ACM certificate, in the stack's region: this is a placeholder (AWS's example "
            f"account {EXAMPLE_ACCOUNT} or an all-zero certificate id); replace it in the stack file",
        )
    if isinstance(domain, str):
        _require(
            not _EXAMPLE_DOMAIN.search(domain),
            "domain_name",
            domain,
            "your own DNS name, covered by the certificate: names under example.com, example.net, example.org "
            "and .example are reserved for documentation (RFC 2606); replace the placeholder in the stack file",
        )


def _ipv4_network(key: str, value: str) -> ipaddress.IPv4Network:
    allowed = "an IPv4 network in CIDR form with no host bits set, e.g. 10.0.0.0/16 or 203.0.113.7/32"
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ConfigError(key, value, allowed) from None
    _require(isinstance(network, ipaddress.IPv4Network) and "/" in value, key, value, allowed)
    return network  # type: ignore[return-value]


def _check_existing_vpc(given: Mapping[str, Any]) -> None:
    """vpc_id and both subnet lists come together; multi-AZ RDS and the ALB need 2 subnets in each list."""
    subnet_keys = ("public_subnet_ids", "private_subnet_ids")
    if "vpc_id" in given:
        for key in ("nat_per_zone", "interface_endpoints"):
            _require(not given.get(key), key, given.get(key), "false with vpc_id: it shapes only a VPC created here")
    if "vpc_id" not in given:
        for key in subnet_keys:
            if key in given:
                raise ConfigError(key, given[key], "give vpc_id with it, or leave both out to create a VPC")
        return
    _check_pattern(given, "vpc_id", _VPC_ID, "a VPC id like vpc-0123456789abcdef0")
    seen: dict[str, str] = {}
    for key in subnet_keys:
        subnets = given.get(key)
        _require(
            subnets is not None and len(subnets) >= 2,
            key,
            subnets,
            "at least 2 subnet ids in different availability zones (required with vpc_id)",
        )
        for index, subnet in enumerate(subnets):
            _check_subnet(f"{key}[{index}]", subnet, seen)


def _check_subnet(key: str, subnet: Any, seen: dict[str, str]) -> None:
    if not isinstance(subnet, str):
        return  # an Output: its value is known only at deploy time
    _require(_SUBNET_ID.fullmatch(subnet) is not None, key, subnet, "a subnet id like subnet-0123456789abcdef0")
    _require(
        subnet not in seen,
        key,
        subnet,
        f"a subnet not already listed (it is {seen.get(subnet)}); public subnets route to an internet gateway, "
        "private ones do not, so no subnet can be both",
    )
    seen[subnet] = key


def _check_build_context(given: Mapping[str, Any]) -> None:
    """Without a pushed image, the image is built: its DAGs and Dockerfile must be there now, not minutes into
    `pulumi up` (airflow_celery/aws/build_context.py assembles the context)."""
    if "image" in given:
        return
    from airflow_celery.aws import build_context

    found = build_context.sources(given.get("build_context"))
    lacking = build_context.missing(found, given.get("dockerfile", "image/Dockerfile"))
    key = "build_context" if given.get("build_context") or str(found.dags) in lacking else "dockerfile"
    _require(
        not lacking,
        key,
        given.get(key),
        f"a directory holding dags/ (and optionally image/Dockerfile); missing: {', '.join(lacking)}; relative "
        "paths are taken from the program's directory, or give a pushed `image` by digest instead",
    )


def _check_image(given: Mapping[str, Any]) -> None:
    image = given.get("image")
    if not isinstance(image, str):
        _check_build_context(given)
        return
    match = _IMAGE.fullmatch(image)
    _require(
        match is not None and match["digest"] is not None,
        "image",
        image,
        "an image pinned by digest, name@sha256:<64 hex digits> (a tag may precede it): a tag alone can move, "
        "and every role must run the same code; `docker buildx imagetools inspect NAME:TAG` prints the digest",
    )


def _worker_counts(given: Mapping[str, Any]) -> tuple[int, int, int]:
    """Desired, min and max workers. Unset min and max follow the count; an unset count is 1, kept within them."""
    for key in ("worker_count", "worker_min_count", "worker_max_count"):
        _check_int_range(given, key, 0, MAX_WORKERS, " (a cap against runaway cost; each worker holds DB connections)")
    minimum, maximum = given.get("worker_min_count"), given.get("worker_max_count")
    count = given.get("worker_count")
    if count is None:
        count = max(1, minimum or 0)
        count = min(count, maximum) if maximum is not None else count
    minimum = count if minimum is None else minimum
    maximum = count if maximum is None else maximum
    _require(minimum <= count, "worker_min_count", minimum, f"at most worker_count ({count})")
    _require(count <= maximum, "worker_max_count", maximum, f"at least worker_count ({count})")
    _require(maximum >= 1, "worker_max_count", maximum, "at least 1: without a worker no task ever runs")
    return count, minimum, maximum


WORKER_CAPACITIES = ("fargate", "fargate-spot", "mixed")
ROLE_CAPACITIES = ("fargate", "fargate-spot")
CPU_ARCHITECTURES = ("X86_64", "ARM64")
SPOT_ROLES: tuple[str, ...] = tuple(r.name for r in ROLES if r.kind is Kind.AIRFLOW and not r.scalable)
"""The services role_capacity may put on Spot: every Airflow service but the workers (worker_capacity)."""


def _check_hibernation(schedule: Mapping[str, Any] | None) -> None:
    if schedule is None:
        return
    import zoneinfo

    merged = {**vars(Hibernation()), **schedule}
    _require(merged["days"] in HIBERNATION_DAYS, "hibernation.days", merged["days"],
             f"one of {', '.join(HIBERNATION_DAYS)}")  # fmt: skip
    _require(0 <= merged["wake"] <= 23, "hibernation.wake", merged["wake"], "an hour from 0 to 23")
    _require(
        merged["wake"] < merged["sleep"] <= 23,
        "hibernation.sleep",
        merged["sleep"],
        f"an hour after wake ({merged['wake']}) and at most 23",
    )
    _require(
        merged["timezone"] in zoneinfo.available_timezones(),
        "hibernation.timezone",
        merged["timezone"],
        "an IANA timezone such as UTC or Europe/Berlin",
    )


def _check_role_capacity(capacities: Mapping[str, Any]) -> None:
    for role_name, capacity in capacities.items():
        key = f"role_capacity.{role_name}"
        if role_name == WORKER.name:
            raise ConfigError(key, capacity, "set worker_capacity instead (it also offers 'mixed')")
        _require(
            role_name in SPOT_ROLES,
            key,
            capacity,
            f"a role among {', '.join(SPOT_ROLES)} (Redis stays on-demand: a reclaimed broker loses its queue)",
        )
        _require(capacity in ROLE_CAPACITIES, key, capacity, f"one of {', '.join(ROLE_CAPACITIES)}")


API_WORKERS = 2
"""uvicorn worker processes per api-server task ([api] workers)."""

ROLE_COUNT_LIMITS = {
    "api_server_count": MAX_API_SERVERS,
    "scheduler_count": MAX_SCHEDULERS,
    "triggerer_count": MAX_TRIGGERERS,
}
"""Upper bounds of the per-role task counts (cluster/limits.py)."""


def _check_counts(given: Mapping[str, Any]) -> None:
    for key, high in ROLE_COUNT_LIMITS.items():
        _check_int_range(given, key, 1, high)
    _check_int_range(given, "db_pool_size", 1, 50)
    _check_int_range(given, "db_max_overflow", 0, 50)


def _check_connection_budget(config: ClusterConfig) -> None:
    """The cluster's worst case of database connections must fit the instance class's max_connections."""
    budget = connection_budget(config.capacity)
    limit = max_connections(config.db_instance_class)
    if budget.total <= limit:
        return
    bigger = smallest_class_for(budget.total, config.db_instance_class)
    raise ConfigError(
        "db_instance_class",
        config.db_instance_class,
        f"a class whose max_connections (about {limit} here) holds the cluster's worst case of {budget.describe()}"
        f"; ways out: a bigger class{f' such as {bigger}' if bigger else ''}, fewer workers (worker_max_count, "
        "worker_queues.<queue>.max) or "
        "slots (worker_concurrency), or a smaller pool (db_pool_size, db_max_overflow)",
    )


def _check_worker_density(config: ClusterConfig) -> None:
    """Every busy slot of a worker must fit its memory (slot and base measured in cluster/measured.py)."""
    memory = config.role_sizes[WORKER.name][1]
    most = max_worker_concurrency(memory)
    _require(
        config.worker_concurrency <= most,
        "worker_concurrency",
        config.worker_concurrency,
        f"at most {most} slots on a worker of {memory} MiB: a busy slot takes {SLOT_MEMORY_MIB} MiB with its pool "
        f"child and the worker's main process {WORKER_MAIN_MEMORY_MIB} MiB (measured {MEASURED_ON}, "
        "bench/capacity.py), with "
        f"{100 - round(MEMORY_USABLE_SHARE * 100)} % left for the tasks' own data; or give the worker more memory "
        "(role_sizes.worker.memory)",
    )


def _check_health_checked_memory(config: ClusterConfig) -> None:
    """The dag-processor and triggerer run `airflow jobs check` beside themselves every 30 s."""
    for role_name in (DAG_PROCESSOR.name, TRIGGERER.name):
        cpu, memory = config.role_sizes[role_name]
        needed = health_checked_memory_needed(role_name)
        _require(
            memory >= needed,
            f"role_sizes.{role_name}",
            {"cpu": cpu, "memory": memory},
            f"at least {needed} MiB: the {role_name} itself and its health check (`airflow jobs check`, "
            f"{JOBS_CHECK_MEMORY_MIB} MiB, every 30 s) as measured {MEASURED_ON}, with headroom",
        )


def _check_execution_api_cpu(config: ClusterConfig) -> None:
    """Every running task heartbeats through the api-servers: they must hold that at max tasks."""
    capacity = config.capacity
    needed = min_api_server_vcpu(capacity)
    vcpu = config.role_sizes[API_SERVER.name][0] / 1024
    _require(
        needed <= vcpu,
        "api_server_count",
        config.api_server_count,
        f"enough api-servers for {parallelism(capacity)} running tasks' heartbeats "
        f"(every {min_heartbeat_interval(capacity)} s): they take {execution_api_cores(capacity):.2f} cores "
        f"(measured {MEASURED_ON}), at most half of each api-server's {vcpu:g} vCPU with one api-server lost; "
        "add api-servers, or give "
        "them more CPU (role_sizes.api-server.cpu)",
    )


def _check_broker(given: Mapping[str, Any]) -> None:
    _check_pattern(given, "redis_node_type", _NODE_TYPE, "an ElastiCache node type such as cache.t4g.small")


def _check_database(given: Mapping[str, Any]) -> None:
    _check_choice(
        given,
        "db_instance_class",
        tuple(INSTANCE_CLASS_MEMORY_GIB),
        "RDS PostgreSQL classes whose memory the connection budget knows (burstable t3/t4g, m5-m7, r5-r7)",
    )
    _check_int_range(given, "db_allocated_storage", 20, 65536, " GiB (the RDS gp storage limits)")
    _check_int_range(given, "db_backup_retention_days", 1, 35, " (RDS automated backups; they are always on)")
    _check_max_allocated_storage(given)
    version = given.get("db_engine_version")
    if version is not None:
        match = _ENGINE_VERSION.fullmatch(version)
        _require(
            match is not None and int(match["major"]) in POSTGRES_MAJORS,
            "db_engine_version",
            version,
            f"a supported PostgreSQL major version, {POSTGRES_MAJORS[0]}-{POSTGRES_MAJORS[-1]} (e.g. '16' or '16.4')",
        )


def _check_max_allocated_storage(given: Mapping[str, Any]) -> None:
    """RDS storage autoscaling: 0 (off), or a ceiling at least the allocated size (ModifyDBInstance
    MaxAllocatedStorage)."""
    ceiling = given.get("db_max_allocated_storage")
    if ceiling is None:
        return
    allocated = given.get("db_allocated_storage", 20)
    _require(
        ceiling == 0 or allocated <= ceiling <= 65536,
        "db_max_allocated_storage",
        ceiling,
        f"0 (storage autoscaling off) or a size in GiB from db_allocated_storage ({allocated}) to 65536",
    )


def _role_sizes(given: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Every Fargate role's (cpu, memory): the description's default, overridden per role and checked."""
    overrides = given.get("role_sizes", {})
    sizes = {}
    for role_name, override in overrides.items():
        _check_sized_role(role_name, override, given)
    for role_name in FARGATE_ROLES:
        default = role(role_name).size
        override = overrides.get(role_name, {})
        cpu, memory = override.get("cpu", default.cpu), override.get("memory", default.memory)
        _require(
            is_fargate_size(cpu, memory),
            f"role_sizes.{role_name}",
            {"cpu": cpu, "memory": memory},
            f"a size Fargate runs: {describe_allowed(cpu)}",
        )
        sizes[role_name] = (cpu, memory)
    return sizes


def _check_sized_role(role_name: str, override: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    key = f"role_sizes.{role_name}"
    if role_name not in FARGATE_ROLES:
        shares = role(role_name).runs_with if role_name in ROLES_BY_NAME else None
        note = f"{role_name} runs inside the {shares} task, so size {shares} instead; " if shares else ""
        raise ConfigError(key, override, f"{note}roles with a Fargate size are: {', '.join(FARGATE_ROLES)}")
    if role_name == REDIS.name and given.get("redis_mode") == "elasticache":
        raise ConfigError(key, override, "only used when redis_mode is 'fargate'; set redis_node_type instead")
    _require(len(override) > 0, key, override, "a mapping with cpu and/or memory")


def _check_tags(tags: Mapping[str, str]) -> None:
    _require(len(tags) <= MAX_TAGS, "tags", f"{len(tags)} tags", f"at most {MAX_TAGS} tags (AWS allows 50)")
    for key, value in tags.items():
        key_ok = 1 <= len(key) <= 128 and _TAG_TEXT.fullmatch(key) is not None
        _require(key_ok, f"tags.{key}", key, f"a tag key of 1-128 characters: {_TAG_CHARSET}")
        _require(
            not key.lower().startswith("aws:"), f"tags.{key}", key, "a key not starting with the reserved prefix aws:"
        )
        value_ok = len(value) <= 256 and _TAG_TEXT.fullmatch(value) is not None
        _require(value_ok, f"tags.{key}", value, f"a tag value of at most 256 characters: {_TAG_CHARSET}")


_TAG_CHARSET = "letters, digits, spaces and _ . : / = + - @"
