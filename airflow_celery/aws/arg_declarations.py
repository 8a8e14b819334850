"""One declaration per argument of AirflowCeleryCluster: its type, default, bounds or allowed values, description.

This is the one record of each argument, as Airflow's config.yml is of each option. Everything else is made from it:

- the AirflowCeleryClusterArgs TypedDict (aws/args_typed_dict.py, written by `make docs`), whose docstrings are
  `describe(arg)`;
- the range and choice checks in `resolve_args` (`check_declared`), and the defaults of ResolvedArgs;
- the `config:` block of Pulumi.yaml and the README's config reference (`make docs`), and schema.json's
  descriptions (`make schema`). tests/aws/test_arg_declarations.py fails when a generated file is stale.

A description says what the argument is and why, in snake_case names (the stack file and other languages get
them camelCased). It states no default, range or unit: `describe` adds those from the fields. An argument
whose values are a fixed set names each of them in its description (a test checks it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airflow_celery.aws.value_types import HIBERNATION_DAYS, RedisMode, WorkerCapacity
from airflow_celery.cluster.dag_source import (
    DAG_SOURCES,
    DEFAULT_REF,
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_S3_PREFIX,
    IMAGE,
    REFRESH_INTERVAL_RANGE,
)
from airflow_celery.cluster.fargate import FARGATE_SIZES
from airflow_celery.cluster.housekeeping import DEFAULT_RETENTION_DAYS, RETENTION_RANGE
from airflow_celery.cluster.limits import (
    DEFAULT_DB_MAX_OVERFLOW,
    DEFAULT_DB_POOL_SIZE,
    DEFAULT_WORKER_CONCURRENCY,
    MAX_API_SERVERS,
    MAX_SCHEDULERS,
    MAX_TRIGGERERS,
)
from airflow_celery.cluster.reliability import (
    DEFAULT_TASK_RETRIES,
    DEFAULT_TASK_RETRY_DELAY_SECONDS,
    TASK_RETRIES_RANGE,
    TASK_RETRY_DELAY_RANGE,
)
from airflow_celery.cluster.scaling import DEFAULT_SCALE_IN_COOLDOWN
from airflow_celery.cluster.secrets import DEFAULT_ADMIN_USERNAME

MAX_WORKERS = 100
"""A sane cap on workers: each is a Fargate task holding database connections (RDS max_connections)."""
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
CPU_ARCHITECTURES = ("X86_64", "ARM64")
TASK_LOG_STORES = ("cloudwatch", "s3")
POSTGRES_MAJORS = range(15, 18)
"""From 15, PUBLIC may no longer CREATE in schema public, so the result backend's role (entrypoint/migrate.py,
provision_result_backend) gets row access to Celery's tables and nothing else; 13 and 14 are past or at the
PostgreSQL community's end of life."""
MAX_NAME_LENGTH = 20
"""Every physical name derives from the component's name, and Pulumi's auto-naming adds 8 characters to it. AWS
caps load balancer names at 32 characters and ElastiCache replication-group ids at 40, and the provider does not
shorten a name that is too long: it fails the deploy. With 20, "<name>-alb" and "<name>-redis" fit (target
groups use short name prefixes instead), as do the RDS identifier (63), ECR repository and Cloud Map rules;
tests/aws/test_names.py checks every length-capped resource at this maximum."""


@dataclass(frozen=True)
class Arg:
    """The declaration of one argument."""

    name: str
    """The Python name (snake_case); the stack config key and schema property are its camelCase form."""
    annotation: str
    """Its type, as written in AirflowCeleryClusterArgs: pulumi.Input[T] where the value may be an Output."""
    description: str
    """What it is and why; no default, range or unit (added by `describe`)."""
    default: Any = None
    """The value when it is not given; None when it has none of its own (the description says what unset means)."""
    bounds: tuple[int, int] | None = None
    """Inclusive range of an integer."""
    unit: str = ""
    """Unit of `bounds`, e.g. "seconds"."""
    why: str = ""
    """Why the bounds are what they are, shown with a refused value."""
    choices: tuple[Any, ...] | type[StrEnum] | None = None
    """The only values allowed (an enum's members, or a tuple)."""
    choices_are: str = ""
    """What the choices are, for a refused value: "one of the {choices_are}: ..."."""


def range_allowed(arg: Arg) -> str:
    """What a refused out-of-range value is told: the range, its unit, and why."""
    assert arg.bounds is not None
    low, high = arg.bounds
    unit = f" {arg.unit}" if arg.unit else ""
    why = f" ({arg.why})" if arg.why else ""
    return f"a whole number from {low} to {high}{unit}{why}"


def shown(value: Any) -> str:
    """A default as a stack file writes it: true/false, numbers bare, strings quoted."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def describe(arg: Arg, *, with_default: bool = True) -> str:
    """The description every output shows: the declaration's text, its range and (unless the output shows it
    apart, as Pulumi.yaml and the README do) its default."""
    parts = [arg.description]
    if arg.bounds:
        low, high = arg.bounds
        parts.append(f"Range {low}-{high}{f' {arg.unit}' if arg.unit else ''}.")
    if with_default and arg.default is not None:
        parts.append(f"Default {shown(arg.default)}.")
    return " ".join(parts)


@dataclass(frozen=True)
class Record:
    """A mapping-valued argument's own TypedDict: its name, what it is, and a declaration per key."""

    name: str
    description: str
    fields: tuple[Arg, ...]

    @property
    def defaults(self) -> dict[str, Any]:
        return {arg.name: arg.default for arg in self.fields if arg.default is not None}


ROLE_SIZE = Record(
    "RoleSizeArgs",
    "A Fargate task size for one role. Either field may be left out: it keeps the role's default.",
    (
        Arg("cpu", "int", f"CPU units (1024 = 1 vCPU): {', '.join(map(str, FARGATE_SIZES))}."),
        Arg("memory", "int", "Memory in MiB; must be a size Fargate allows with `cpu`."),
    ),
)
HIBERNATION = Record(
    "HibernationArgs",
    "Working hours: the cluster runs from wake to sleep on `days`, and sleeps otherwise.",
    (
        Arg(
            "days",
            "str",
            f"The days it wakes: {', '.join(HIBERNATION_DAYS)}.",
            default="MON-FRI",
            choices=tuple(HIBERNATION_DAYS),
            choices_are="day ranges a schedule wakes on",
        ),
        Arg(
            "wake",
            "int",
            "Hour every service starts again, and the database.",
            default=7,
            bounds=(0, 23),
            why="an hour of the day",
        ),
        Arg(
            "sleep",
            "int",
            "Hour every service scales to zero and the database stops, after `wake`.",
            default=19,
            bounds=(1, 23),
            why="an hour of the day",
        ),
        Arg("timezone", "str", 'IANA timezone of the hours, e.g. "Europe/Berlin".', default="UTC"),
    ),
)
RECORDS: tuple[Record, ...] = (ROLE_SIZE, HIBERNATION)
"""The TypedDicts arguments take, generated before AirflowCeleryClusterArgs; the annotations name them."""


ARGS_DESCRIPTION = "Arguments of AirflowCeleryCluster. Every field is optional; the defaults make a small dev cluster."
ARGS: tuple[Arg, ...] = (
    Arg(
        "vpc_id",
        "pulumi.Input[str]",
        "An existing VPC to deploy into. Give `public_subnet_ids` and `private_subnet_ids` with it. Without it, a VPC "
        "is created across 2 availability zones with public and private subnets and NAT.",
    ),
    Arg(
        "public_subnet_ids",
        "list[pulumi.Input[str]]",
        "Subnets of `vpc_id` for the load balancer (at least 2, in different availability zones).",
    ),
    Arg(
        "private_subnet_ids",
        "list[pulumi.Input[str]]",
        "Subnets of `vpc_id` for the tasks, the database and Redis (at least 2). Tasks get no public IP.",
    ),
    Arg(
        "vpc_cidr",
        "str",
        "CIDR block of the VPC created when `vpc_id` is not given, a prefix from /16 to /24.",
        default="10.0.0.0/16",
    ),
    Arg(
        "nat_per_zone",
        "bool",
        "One NAT gateway in each availability zone, so losing a zone leaves the other its way out (ECR, Secrets "
        "Manager, CloudWatch); false: one NAT gateway for both zones (dev). Only for a VPC created here.",
        default=False,
    ),
    Arg(
        "interface_endpoints",
        "bool",
        "Interface VPC endpoints for ECR (api, dkr), Secrets Manager and CloudWatch Logs, so task starts do not "
        "depend on a NAT gateway. They cost per zone and hour (`plan` prices them). Only for a VPC created here; the "
        "S3 gateway endpoint (free) is always created there.",
        default=False,
    ),
    Arg(
        "allowed_cidrs",
        "list[str]",
        "CIDR blocks that may reach the load balancer on 443 and 80. When every block is private (RFC 1918), the "
        "load balancer is internal, in the private subnets; otherwise internet-facing. Unset: the created VPC's own "
        "vpc_cidr (an internal load balancer nobody outside the VPC reaches); required with vpc_id, and in a "
        "production stack (db_deletion_protection or certificate_arn), where 0.0.0.0/0 is refused.",
    ),
    Arg(
        "flower_on_load_balancer",
        "bool",
        "Serve Flower (which can revoke tasks and shut workers down) on the load balancer at /flower/, behind basic "
        'auth. False: Flower is reached only through an ECS Exec port forward (README, "Reaching the UI").',
        default=False,
    ),
    Arg(
        "certificate_arn",
        "pulumi.Input[str]",
        "ACM certificate ARN (in the stack's region) for HTTPS on the load balancer. Without it the UI is served "
        "over plain HTTP, with a loud warning.",
    ),
    Arg(
        "domain_name",
        "str",
        "The DNS name people open the UI at, e.g. airflow.example.com: a record you point at the load balancer, "
        "covered by the certificate. Airflow's base URL and the outputs use it; without it they use the load "
        "balancer's own name, which no certificate can cover.",
    ),
    Arg(
        "image",
        "pulumi.Input[str]",
        "A pushed image to run instead of building `image/`, pinned by digest (name@sha256:...; a tag may precede "
        "the digest). A tag alone is refused: it can move, and every role must run the same code.",
    ),
    Arg(
        "build_context",
        "str",
        "A directory holding dags/ (and, to change the image, image/ with its Dockerfile and requirements.txt): "
        "the DAGs baked into the image. Relative to the program's directory. Unset: the project this package was "
        "loaded from (its own image/ and dags/). The package's entrypoint files are added to the build either way.",
    ),
    Arg("dockerfile", "str", "Dockerfile path, relative to the directory holding image/.", default="image/Dockerfile"),
    Arg("ecr_force_delete", "bool", "Let `pulumi destroy` delete the ECR repository with its images.", default=False),
    Arg(
        "worker_count",
        "int",
        "Workers at the first deploy, between worker_min_count and worker_max_count. With autoscaling (min < max) "
        "later deploys leave the running count alone: the autoscaler owns it.",
        default=1,
        bounds=(0, MAX_WORKERS),
        why="a cap against runaway cost; each worker holds DB connections",
    ),
    Arg(
        "worker_min_count",
        "int",
        "Fewest workers the autoscaler may scale in to; 0 lets an idle cluster run no worker. Unset: worker_count.",
        bounds=(0, MAX_WORKERS),
        why="a cap against runaway cost; each worker holds DB connections",
    ),
    Arg(
        "worker_max_count",
        "int",
        "Most workers the autoscaler may scale out to, at least 1. Unset: worker_count. With min < max, workers "
        "follow the queue: ceil((queued + running) / worker_concurrency).",
        bounds=(0, MAX_WORKERS),
        why="a cap against runaway cost; each worker holds DB connections",
    ),
    Arg(
        "worker_scale_in_cooldown",
        "int",
        "Seconds a lower worker count must be wanted before workers are stopped.",
        default=DEFAULT_SCALE_IN_COOLDOWN,
        bounds=(60, 3600),
        unit="seconds",
    ),
    Arg(
        "worker_capacity",
        "WorkerCapacityArg",
        'Where workers run: "fargate" (on-demand), "fargate-spot" (AWS advertises up to 70 % off; a reclaimed '
        'worker gets SIGTERM and 120 s) or "mixed" (worker_min_count on-demand, the rest Spot).',
        default=WorkerCapacity.FARGATE.value,
        choices=WorkerCapacity,
    ),
    Arg(
        "role_capacity",
        "dict[str, str]",
        "Where each other Airflow service runs, keyed by role (api-server, scheduler, dag-processor, triggerer, "
        'flower): "fargate" (on-demand, the default) or "fargate-spot" (cheaper; a reclaimed task gets SIGTERM '
        "and 120 s, and ECS starts a new one). Workers use worker_capacity. Redis is not offered: a reclaimed broker "
        "takes its queue with it.",
    ),
    Arg(
        "cpu_architecture",
        "str",
        'The CPU architecture of every role, "X86_64" or "ARM64" (Graviton, about 20 % cheaper on Fargate); the '
        "image is built for that platform (building ARM64 on an x86 machine needs Docker's QEMU emulation).",
        default="X86_64",
        choices=CPU_ARCHITECTURES,
        choices_are="CPU architectures Fargate runs Linux tasks on",
    ),
    Arg(
        "hibernation",
        "HibernationArgs",
        "Working hours, e.g. {days: MON-FRI, wake: 7, sleep: 19, timezone: Europe/Berlin}: outside them every "
        "service scales to zero and the database stops (App Auto Scaling scheduled actions, EventBridge "
        "Scheduler); ElastiCache, the load balancer and NAT keep running. Unset: always on. `plan` prices both.",
    ),
    Arg(
        "container_insights",
        "bool",
        "ECS Container Insights on the cluster (per-task CPU, memory and network metrics); its metrics are billed "
        "as CloudWatch custom metrics, which `plan` counts.",
        default=True,
    ),
    Arg(
        "worker_concurrency",
        "int",
        "Task slots per worker (AIRFLOW__CELERY__WORKER_CONCURRENCY). `[core] parallelism` and the default pool "
        "follow: worker_max_count x worker_concurrency.",
        default=DEFAULT_WORKER_CONCURRENCY,
        bounds=(1, 256),
    ),
    Arg(
        "default_task_retries",
        "int",
        "Retries of a task that sets no `retries` itself ([core] default_task_retries): a task on a worker that is "
        "lost (Spot, scale-in, OOM) is failed after the heartbeat timeout and then retried, instead of failing its "
        "run. Tasks that must not run twice set `retries=0` themselves.",
        default=DEFAULT_TASK_RETRIES,
        bounds=TASK_RETRIES_RANGE,
        why="tries after the first",
    ),
    Arg(
        "default_task_retry_delay_seconds",
        "int",
        "Seconds between those tries ([core] default_task_retry_delay).",
        default=DEFAULT_TASK_RETRY_DELAY_SECONDS,
        bounds=TASK_RETRY_DELAY_RANGE,
        unit="seconds",
        why="Airflow's max_task_retry_delay",
    ),
    Arg(
        "api_server_count",
        "int",
        "api-server tasks; 2 or more survive the loss of one, which every running task needs (its heartbeats go "
        "through the api-server's Task Execution API).",
        default=1,
        bounds=(1, MAX_API_SERVERS),
    ),
    Arg(
        "scheduler_count",
        "int",
        "Scheduler tasks (Airflow runs several schedulers on PostgreSQL).",
        default=1,
        bounds=(1, MAX_SCHEDULERS),
    ),
    Arg("triggerer_count", "int", "Triggerer tasks.", default=1, bounds=(1, MAX_TRIGGERERS)),
    Arg(
        "db_pool_size",
        "int",
        "Connections each Airflow process's SQLAlchemy engine keeps open ([database] sql_alchemy_pool_size); "
        "counted in the connection budget checked against the RDS class's max_connections.",
        default=DEFAULT_DB_POOL_SIZE,
        bounds=(1, 50),
    ),
    Arg(
        "db_max_overflow",
        "int",
        "Extra connections an engine may open under load ([database] sql_alchemy_max_overflow); counted in the "
        "connection budget.",
        default=DEFAULT_DB_MAX_OVERFLOW,
        bounds=(0, 50),
    ),
    Arg(
        "role_sizes",
        "dict[str, RoleSizeArgs]",
        "Per-role Fargate size overrides keyed by role name (api-server, scheduler, dag-processor, triggerer, "
        "worker, flower, migrate, redis), e.g. {worker: {cpu: 2048, memory: 8192}}. Unset roles keep the sizes "
        "of the cluster description (airflow_celery/cluster/roles.py).",
    ),
    Arg(
        "log_retention_days",
        "int",
        f"CloudWatch log retention of every role in days, one of {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}.",
        default=30,
        choices=CLOUDWATCH_RETENTION_DAYS,
        choices_are="days CloudWatch Logs allows",
    ),
    Arg(
        "redis_mode",
        "RedisModeArg",
        'Where the Celery broker runs: "fargate" (a Fargate service, the cheap default) or "elasticache" (an '
        "ElastiCache replication group with TLS and an AUTH token).",
        default=RedisMode.FARGATE.value,
        choices=RedisMode,
    ),
    Arg(
        "redis_node_type",
        "str",
        'ElastiCache node type, used when redis_mode is "elasticache".',
        default="cache.t4g.small",
    ),
    Arg(
        "db_instance_class",
        "str",
        "RDS PostgreSQL instance class, one whose memory the connection budget knows (burstable t3/t4g, m5-m7, r5-r7).",
        default="db.t4g.small",
    ),
    Arg(
        "db_allocated_storage",
        "int",
        "RDS storage.",
        default=20,
        bounds=(20, 65536),
        unit="GiB",
        why="the RDS gp storage limits",
    ),
    Arg(
        "db_engine_version",
        "str",
        'RDS PostgreSQL major version (a string, e.g. "16" or "16.4"), from '
        f"{POSTGRES_MAJORS[0]} to {POSTGRES_MAJORS[-1]}.",
        default="16",
    ),
    Arg(
        "db_allow_major_version_upgrade",
        "bool",
        "Let this `pulumi up` change db_engine_version's major version (16 -> 17). False: RDS then refuses a major "
        "change, so an edited version can never upgrade a production database by surprise. Set it for the upgrade, "
        "and back to false after.",
        default=False,
    ),
    Arg(
        "db_max_allocated_storage",
        "int",
        "Most GiB RDS storage autoscaling may grow to, from db_allocated_storage to 65536; 0 turns it off. Unset: "
        "4 x db_allocated_storage.",
    ),
    Arg("db_multi_az", "bool", "Run RDS in multi-AZ mode.", default=False),
    Arg(
        "db_deletion_protection",
        "bool",
        "Turn on RDS deletion protection (turn it off before `pulumi destroy`).",
        default=False,
    ),
    Arg(
        "db_skip_final_snapshot",
        "bool",
        "Skip the final snapshot when the database is destroyed (false keeps one).",
        default=False,
    ),
    Arg(
        "db_backup_retention_days",
        "int",
        "Days of automated RDS backups (backups are always on).",
        default=7,
        bounds=(1, 35),
        why="RDS automated backups; they are always on",
    ),
    Arg(
        "apply_immediately",
        "bool",
        "Apply RDS and ElastiCache changes (instance class, storage, engine version) during `pulumi up` instead of "
        "in the next maintenance window. False: a production database changes in its window.",
        default=False,
    ),
    Arg(
        "admin_username",
        "str",
        "Username of the Airflow admin (and of Flower's basic auth): a letter, then up to 63 letters, digits, "
        "'_', '.' or '-'. The passwords are generated and kept in Secrets Manager.",
        default=DEFAULT_ADMIN_USERNAME,
    ),
    Arg(
        "task_log_store",
        "str",
        'Where task logs go: "cloudwatch" (streamed every 2 s while the task runs, so a SIGKILLed or reclaimed '
        'worker keeps its lines; read back by the UI) or "s3" (uploaded when the task ends: a killed worker\'s log '
        "is lost).",
        default="cloudwatch",
        choices=TASK_LOG_STORES,
        choices_are="places task logs go",
    ),
    Arg(
        "db_clean_retention_days",
        "int",
        "Days of history the daily `airflow db clean` task keeps (runs, task instances, XComs, logs, jobs, Celery "
        "results).",
        default=DEFAULT_RETENTION_DAYS,
        bounds=RETENTION_RANGE,
        unit="days",
    ),
    Arg(
        "monitoring",
        "bool",
        'A CloudWatch dashboard, alarms with an SNS topic, and a failed-task metric (README "Operating the '
        "cluster\"); on a hibernating stack the alarms' actions are off while it sleeps. `plan` prices it.",
        default=True,
    ),
    Arg(
        "alarm_email",
        "str",
        "An email address subscribed to the alarms' SNS topic (AWS mails it a confirmation link once). Unset: the "
        "topic has no subscriber; subscribe a pager or chat hook to it yourself.",
    ),
    Arg(
        "tags",
        "dict[str, str]",
        'Tags added to every taggable resource, e.g. {team: data}; keys must not start with "aws:".',
    ),
    Arg(
        "airflow_metrics",
        "bool",
        "Airflow's own metrics in CloudWatch (scheduler loop and heartbeat, executor and pool slots, tasks failed for "
        "a missing heartbeat, task durations, DAG import errors, the triggerer): StatsD to a CloudWatch agent in each "
        "task that emits them, an allow-list of 16 metrics, 3 more per pool beyond the default one "
        "(cluster/metrics.py). `plan` prices them; with monitoring their alarms and widgets join the dashboard.",
        default=True,
    ),
    Arg(
        "dag_source",
        "str",
        'Where DAGs come from: "image" (baked into the image: a change is a build and a rollout), "git" (Airflow\'s '
        'versioned GitDagBundle: a commit reaches new runs within dag_refresh_interval, no rebuild) or "s3" '
        "(versioned archives in a bucket, shipped with `airflow-celery dags push STACK`).",
        default=IMAGE,
        choices=DAG_SOURCES,
        choices_are="DAG sources",
    ),
    Arg("dag_repo_url", "str", "git: the repository, https://, ssh:// or git@host:path, with no credential in it."),
    Arg("dag_ref", "str", "git: the branch or tag new runs follow.", default=DEFAULT_REF),
    Arg("dag_subdir", "str", "git: the repository's folder that holds the DAG files. Unset: the whole repository."),
    Arg(
        "dag_refresh_interval",
        "int",
        "git and s3: seconds between the dag-processor's checks for a new version.",
        default=DEFAULT_REFRESH_INTERVAL,
        bounds=(REFRESH_INTERVAL_RANGE.start, REFRESH_INTERVAL_RANGE.stop - 1),
        unit="seconds",
    ),
    Arg(
        "dag_git_secret_arn",
        "str",
        "git: a Secrets Manager secret holding the credential as an Airflow connection (JSON: conn_type git, host, "
        "login, password a token, or extra.private_key); only the dag-processor's and workers' execution roles may "
        "read it. Unset: a public repository.",
    ),
    Arg("dag_bucket", "str", "s3: the bucket `airflow-celery dags push` writes to; unset, the component creates one."),
    Arg(
        "dag_prefix",
        "str",
        "s3: the key prefix of the DAG archives and their `current` pointer, ending in '/'.",
        default=DEFAULT_S3_PREFIX,
    ),
    Arg(
        "worker_queues",
        "dict[str, WorkerQueueArgs]",
        "More pools of workers, keyed by Celery queue name (1-12 lowercase letters, digits, hyphens), each consuming "
        'only its queue, with its own size, slots, count range, capacity and IAM (README "Worker queues"). Tasks '
        'choose one with `queue="<name>"`; the rest run on the `default` queue, which the worker_* keys size. Unset: '
        "one pool.",
    ),
    Arg(
        "dag_failure_notifications",
        "bool",
        "A message on the alarms' SNS topic when a DAG run fails (the DAG, the run, its failed tasks and a link to "
        "it), for every DAG without an on_failure_callback of its own; the dag-processor sends it and alone may "
        'publish. Needs monitoring, which creates the topic (README "Operating the cluster").',
        default=False,
    ),
)
"""Every argument, in the order of AirflowCeleryClusterArgs. A new one goes at the end (README, "Config reference")."""

ARGS_BY_NAME: dict[str, Arg] = {arg.name: arg for arg in ARGS}

NAME = Arg(
    "name",
    "str",
    f"Name of the component and prefix of every AWS resource name (at most {MAX_NAME_LENGTH} characters, lowercase "
    "letters, digits and hyphens). Unset: airflow-<stack>.",
)
"""The one stack config key that is not an argument: the component's name."""

DEFAULTS: dict[str, Any] = {arg.name: arg.default for arg in ARGS if arg.default is not None}
"""The value of every argument that has one of its own when it is not given."""


def camel_case(snake: str) -> str:
    """snake_case -> camelCase: Pulumi's convention for config keys, schema properties and stack outputs."""
    first, *rest = snake.split("_")
    return first + "".join(word.capitalize() for word in rest)


_SNAKE_ARG = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def camel_case_args(text: str) -> str:
    """`text` with every snake_case argument name in camelCase (`worker_max_count` -> `workerMaxCount`)."""
    return _SNAKE_ARG.sub(lambda m: camel_case(m[0]) if m[0] in ARGS_BY_NAME else m[0], text)
