"""ResolvedArgs: the validated arguments with every default filled in, the only form the renderer reads.

resolve_args (aws/args.py) makes it; its fields mirror the argument declarations (aws/arg_declarations.py), with
lists as tuples and derived values (worker counts, every role's size) worked out. It has no defaults of its own.
"""

import ipaddress
from dataclasses import dataclass

from airflow_celery.aws.value_types import Hibernation, RedisMode, WorkerCapacity
from airflow_celery.aws.worker_queues import queue_slots
from airflow_celery.cluster.limits import Capacity
from airflow_celery.cluster.queues import WorkerQueue

API_WORKERS = 2
"""uvicorn worker processes per api-server task ([api] workers)."""
VPC_PRIVATE_RANGES = tuple(
    ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
"""The ranges a VPC, a VPN or a peered network uses (RFC 1918, and RFC 6598 that VPCs accept as well). Python's
`is_private` would also count the documentation ranges, which stand for public addresses."""


def is_vpc_private(cidr: str) -> bool:
    network = ipaddress.ip_network(cidr)
    return any(network.subnet_of(private) for private in VPC_PRIVATE_RANGES)


@dataclass(frozen=True)
class ResolvedArgs:
    """The validated arguments, with every default filled in. The renderer reads only this."""

    name: str
    vpc_id: str | None
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]
    vpc_cidr: str
    nat_per_zone: bool
    interface_endpoints: bool
    allowed_cidrs: tuple[str, ...]
    flower_on_load_balancer: bool
    certificate_arn: str | None
    domain_name: str | None
    image: str | None
    build_context: str | None
    dockerfile: str
    ecr_force_delete: bool
    worker_count: int
    worker_min_count: int
    worker_max_count: int
    worker_scale_in_cooldown: int
    worker_capacity: WorkerCapacity
    role_capacity: dict[str, str]
    cpu_architecture: str
    container_insights: bool
    hibernation: Hibernation | None
    worker_concurrency: int
    default_task_retries: int
    default_task_retry_delay_seconds: int
    api_server_count: int
    scheduler_count: int
    triggerer_count: int
    db_pool_size: int
    db_max_overflow: int
    role_sizes: dict[str, tuple[int, int]]
    """Role name -> (cpu, memory), for every role that runs on Fargate."""
    log_retention_days: int
    redis_mode: RedisMode
    redis_node_type: str
    db_instance_class: str
    db_allocated_storage: int
    db_engine_version: str
    db_allow_major_version_upgrade: bool
    db_max_allocated_storage: int | None
    db_multi_az: bool
    db_deletion_protection: bool
    db_skip_final_snapshot: bool
    db_backup_retention_days: int
    apply_immediately: bool
    admin_username: str
    task_log_store: str
    db_clean_retention_days: int
    monitoring: bool
    alarm_email: str | None
    tags: dict[str, str]
    airflow_metrics: bool
    dag_source: str
    dag_repo_url: str | None
    dag_ref: str
    dag_subdir: str | None
    dag_refresh_interval: int
    dag_git_secret_arn: str | None
    dag_bucket: str | None
    dag_prefix: str
    worker_queues: tuple[WorkerQueue, ...]
    """The extra queues (aws/worker_queues.py), in name order; the default queue is the worker_* fields."""
    dag_failure_notifications: bool
    """A failed DAG run is announced on the alarms' topic (cluster/failure_notifications.py); needs monitoring."""

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
        return all(is_vpc_private(cidr) for cidr in self.load_balancer_cidrs)
