"""The component's arguments: a TypedDict for users, and the validated form the renderer reads.

Every check happens in `resolve_args`, before the component registers anything, and each failure is
one ConfigError naming the field, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict


class ConfigError(ValueError):
    """A bad argument or stack config value: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


class RoleSizeArgs(TypedDict):
    """A Fargate task size for one role."""

    cpu: int
    """CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384."""
    memory: int
    """Memory in MiB; must be a size Fargate allows with `cpu`."""


class AirflowCeleryClusterArgs(TypedDict, total=False):
    """Arguments of AirflowCeleryCluster. Every field is optional; the defaults make a small dev cluster."""

    vpc_id: str
    """An existing VPC to deploy into. Give `public_subnet_ids` and `private_subnet_ids` with it.
    Without it, a VPC is created across 2 availability zones with public and private subnets and NAT."""
    public_subnet_ids: list[str]
    """Subnets of `vpc_id` for the load balancer (at least 2, in different availability zones)."""
    private_subnet_ids: list[str]
    """Subnets of `vpc_id` for the tasks, the database and Redis (at least 2). Tasks get no public IP."""
    vpc_cidr: str
    """CIDR block of the VPC created when `vpc_id` is not given. Default 10.0.0.0/16; /16 to /24."""
    allowed_cidrs: list[str]
    """CIDR blocks that may reach the load balancer on 443 and 80. Default ["0.0.0.0/0"]."""
    certificate_arn: str
    """ACM certificate ARN for HTTPS on the load balancer. Without it the UI is served over plain HTTP,
    with a loud warning."""
    image: str
    """A pushed image reference to run instead of building `image/`. Pin it by digest (name@sha256:...)."""
    build_context: str
    """Docker build context for the image. Default "." (the project root, holding image/ and dags/)."""
    dockerfile: str
    """Dockerfile path, relative to the working directory. Default "image/Dockerfile"."""
    ecr_force_delete: bool
    """Let `pulumi destroy` delete the ECR repository with its images. Default False."""
    worker_count: int
    """Desired number of Celery worker tasks. Default 1; between worker_min_count and worker_max_count."""
    worker_min_count: int
    """Fewest workers the service may scale to. Default: worker_count."""
    worker_max_count: int
    """Most workers the service may scale to. Default: worker_count."""
    worker_concurrency: int
    """Task slots per worker (AIRFLOW__CELERY__WORKER_CONCURRENCY), 1-256. Default 16."""
    role_sizes: dict[str, RoleSizeArgs]
    """Per-role Fargate size overrides, keyed by role name (api-server, scheduler, dag-processor,
    triggerer, worker, flower, redis). Defaults come from the cluster description."""
    log_retention_days: int
    """CloudWatch log retention for every role, one of the values CloudWatch allows. Default 30."""
    redis_mode: Literal["fargate", "elasticache"]
    """Run the broker as a Fargate service ("fargate", the cheap default) or as an ElastiCache
    replication group with TLS and an AUTH token ("elasticache")."""
    redis_node_type: str
    """ElastiCache node type when redis_mode is "elasticache". Default cache.t4g.small."""
    db_instance_class: str
    """RDS instance class. Default db.t4g.small."""
    db_allocated_storage: int
    """RDS storage in GiB, 20-65536. Default 20."""
    db_engine_version: str
    """RDS PostgreSQL major version, 13-17. Default "16"."""
    db_multi_az: bool
    """Run RDS in multi-AZ mode. Default False."""
    db_deletion_protection: bool
    """Turn on RDS deletion protection. Default False."""
    db_skip_final_snapshot: bool
    """Skip the final snapshot when the database is destroyed. Default False (a snapshot is kept)."""
    db_backup_retention_days: int
    """Days of automated RDS backups, 1-35 (backups are always on). Default 7."""
    admin_username: str
    """Username of the Airflow admin (and of Flower's basic auth). Default "admin"."""
    tags: dict[str, str]
    """Tags added to every taggable resource."""


RedisMode = Literal["fargate", "elasticache"]


@dataclass(frozen=True)
class ClusterConfig:
    """The validated arguments, with every default filled in. The renderer reads only this."""

    name: str
    vpc_id: str | None = None
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()
    vpc_cidr: str = "10.0.0.0/16"
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    certificate_arn: str | None = None
    image: str | None = None
    build_context: str = "."
    dockerfile: str = "image/Dockerfile"
    ecr_force_delete: bool = False
    worker_count: int = 1
    worker_min_count: int = 1
    worker_max_count: int = 1
    worker_concurrency: int = 16
    role_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Role name -> (cpu, memory), for every role that runs on Fargate."""
    log_retention_days: int = 30
    redis_mode: RedisMode = "fargate"
    redis_node_type: str = "cache.t4g.small"
    db_instance_class: str = "db.t4g.small"
    db_allocated_storage: int = 20
    db_engine_version: str = "16"
    db_multi_az: bool = False
    db_deletion_protection: bool = False
    db_skip_final_snapshot: bool = False
    db_backup_retention_days: int = 7
    admin_username: str = "admin"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None


def resolve_args(name: str, args: AirflowCeleryClusterArgs | None) -> ClusterConfig:
    """Validate `args` for a component called `name` and fill in the defaults; raise one ConfigError."""
    raise NotImplementedError  # implemented in the args/validation work
