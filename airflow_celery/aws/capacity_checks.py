"""The capacity rules: checks of a whole resolved config, against what was measured and what RDS allows.

Run last by resolve_args, once every role's size and count is known: a busy worker's slots must fit its memory,
the dag-processor and triggerer their health checks, the cluster's connections the database class, and the
running tasks' heartbeats the api-servers' CPU. The limits themselves are derived in cluster/limits.py.
"""

from airflow_celery.aws.rds_limits import max_connections, smallest_class_for
from airflow_celery.aws.resolved_args import ResolvedArgs
from airflow_celery.aws.value_types import ConfigError, require
from airflow_celery.cluster.limits import (
    MEMORY_USABLE_SHARE,
    MIN_HEARTBEAT_INTERVAL_SECONDS,
    SLOT_MEMORY_MIB,
    connection_budget,
    execution_api_cores,
    health_checked_memory_needed,
    max_worker_concurrency,
    min_api_server_vcpu,
    parallelism,
)
from airflow_celery.cluster.measured import JOBS_CHECK_MEMORY_MIB, MEASURED_ON, WORKER_MAIN_MEMORY_MIB
from airflow_celery.cluster.roles import API_SERVER, DAG_PROCESSOR, TRIGGERER, WORKER


def _check_connection_budget(config: ResolvedArgs) -> None:
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


def _check_worker_density(config: ResolvedArgs) -> None:
    """Every busy slot of a worker must fit its memory (slot and base measured in cluster/measured.py)."""
    memory = config.role_sizes[WORKER.name][1]
    most = max_worker_concurrency(memory)
    require(
        config.worker_concurrency <= most,
        "worker_concurrency",
        config.worker_concurrency,
        f"at most {most} slots on a worker of {memory} MiB: a busy slot takes {SLOT_MEMORY_MIB} MiB with its pool "
        f"child and the worker's main process {WORKER_MAIN_MEMORY_MIB} MiB (measured {MEASURED_ON}, "
        "bench/capacity.py), with "
        f"{100 - round(MEMORY_USABLE_SHARE * 100)} % left for the tasks' own data; or give the worker more memory "
        "(role_sizes.worker.memory)",
    )


def _check_health_checked_memory(config: ResolvedArgs) -> None:
    """The dag-processor and triggerer run `airflow jobs check` beside themselves every 30 s."""
    for role_name in (DAG_PROCESSOR.name, TRIGGERER.name):
        cpu, memory = config.role_sizes[role_name]
        needed = health_checked_memory_needed(role_name)
        require(
            memory >= needed,
            f"role_sizes.{role_name}",
            {"cpu": cpu, "memory": memory},
            f"at least {needed} MiB: the {role_name} itself and its health check (`airflow jobs check`, "
            f"{JOBS_CHECK_MEMORY_MIB} MiB, every 30 s) as measured {MEASURED_ON}, with headroom",
        )


def _check_execution_api_cpu(config: ResolvedArgs) -> None:
    """Every running task heartbeats through the api-servers: they must hold that at max tasks."""
    capacity = config.capacity
    needed = min_api_server_vcpu(capacity)
    vcpu = config.role_sizes[API_SERVER.name][0] / 1024
    require(
        needed <= vcpu,
        "api_server_count",
        config.api_server_count,
        f"enough api-servers for {parallelism(capacity)} running tasks' heartbeats "
        f"(every {MIN_HEARTBEAT_INTERVAL_SECONDS} s): they take {execution_api_cores(capacity):.2f} cores "
        f"(measured {MEASURED_ON}), at most half of each api-server's {vcpu:g} vCPU with one api-server lost; "
        "add api-servers, or give "
        "them more CPU (role_sizes.api-server.cpu)",
    )


def check_capacity(config: ResolvedArgs) -> None:
    """Every capacity rule, smallest scope first."""
    _check_worker_density(config)
    _check_health_checked_memory(config)
    _check_connection_budget(config)
    _check_execution_api_cpu(config)
