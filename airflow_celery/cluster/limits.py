"""Cluster-wide limits derived from the config: task capacity and the database connection budget.

Plain Python, read by the AWS renderer (validation, the env contract), the local runner and the docs, so
that every place agrees on how many tasks may run and how many connections the database must accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_celery.cluster.measured import (
    BUSY_SLOT_MEMORY_MIB,
    HEARTBEAT_CPU_PER_TASK,
    IDLE_SLOT_MEMORY_MIB,
    JOBS_CHECK_MEMORY_MIB,
    ROLE_IDLE_MEMORY_MIB,
    WORKER_MAIN_MEMORY_MIB,
)
from airflow_celery.cluster.roles import API_SERVER, DAG_PROCESSOR, FLOWER, SCHEDULER, TRIGGERER, WORKER

DEFAULT_WORKER_CONCURRENCY = 16
"""Task slots per worker (`[celery] worker_concurrency`, Airflow's default) unless the config asks otherwise."""
DEFAULT_DB_POOL_SIZE = 5
"""`[database] sql_alchemy_pool_size`, Airflow's default: connections an engine keeps open."""
DEFAULT_DB_MAX_OVERFLOW = 3
"""`[database] sql_alchemy_max_overflow`. Airflow's default is 10; with it, one api-server task could hold
61 connections (2 uvicorn workers x 2 engines x 15, and its master process) instead of 33."""

ROLLING_DEPLOY_FACTOR = 2
"""ECS services deploy with maximumPercent 200 (aws/ecs.py): old and new tasks hold connections together
until the old ones stop, and a new image rolls every service at once."""

MAX_API_SERVERS = 10
MAX_SCHEDULERS = 4
"""Airflow runs several schedulers on PostgreSQL (row locks with SKIP LOCKED); more than 4 mostly contend for the
same rows. Local mode (`--schedulers`) and the component (`scheduler_count`) share this range."""
MAX_TRIGGERERS = 10

RESERVED_CONNECTIONS = 5
"""Connections Airflow may not use: PostgreSQL's superuser_reserved_connections (3) and RDS's
rds.rds_superuser_reserved_connections (2), for the master user and RDS's own agents."""


@dataclass(frozen=True)
class Capacity:
    """How many processes of each role run at most: the inputs of every limit below."""

    api_servers: int = 1
    api_workers: int = 2
    """uvicorn worker processes per api-server ([api] workers)."""
    schedulers: int = 1
    triggerers: int = 1
    max_workers: int = 1
    worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY
    db_pool_size: int = DEFAULT_DB_POOL_SIZE
    db_max_overflow: int = DEFAULT_DB_MAX_OVERFLOW
    extra_queues: tuple[QueueSlots, ...] = ()
    """The worker queues beside the default one (cluster/queues.py): their slots and connections add up."""


@dataclass(frozen=True)
class QueueSlots:
    """An extra worker queue, as the limits see it: how many workers at the most, how many slots each."""

    name: str
    max_workers: int
    concurrency: int


def parallelism(capacity: Capacity) -> int:
    """Tasks that can run at once, cluster-wide: every slot of the most workers of every queue (heartbeats and sizes
    follow it)."""
    extra = sum(q.max_workers * q.concurrency for q in capacity.extra_queues)
    return max(1, capacity.max_workers) * capacity.worker_concurrency + extra


WAITING_TASKS_PER_SLOT = 0
"""Tasks the scheduler may keep queued in the broker per worker slot, beside the running ones: none.

Measured (bench/latency.py, README Benchmark): with none, every slot that frees waits a whole scheduler round trip
for its next task (the scheduler's next loop reads the end from the result backend, a later loop queues and sends
the next task: 1-2 s per task on 2 cores); with one waiting per slot, 40 x 5 s on 1 worker x 4 took 13 % less.
It stays at none because a task waiting in the broker is failed once it has waited `[scheduler]
task_queued_timeout` three times (two re-sends, `num_stuck_in_queued_retries`): with every slot busy with tasks
longer than that (hour-long ETL tasks filling the cluster at its max workers), the waiting ones would fail,
where with none they wait in `scheduled`, safely, for as long as it takes. Throughput on short tasks is not worth
a lost task."""


def executor_parallelism(capacity: Capacity) -> int:
    """`[core] parallelism` and the default pool's slots: every slot, plus WAITING_TASKS_PER_SLOT queued each.

    Airflow's default of 32 caps the whole cluster whatever the worker count (base_executor.py:
    `open_slots = self.parallelism - len(self.running)`, where running counts queued tasks too).
    """
    return parallelism(capacity) * (1 + WAITING_TASKS_PER_SLOT)


def capacity_settings(capacity: Capacity) -> dict[str, int]:
    """The env contract's settings (EnvSettings fields) that follow from the capacity, for every renderer."""
    return {
        "worker_concurrency": capacity.worker_concurrency,
        "api_workers": capacity.api_workers,
        "parallelism": executor_parallelism(capacity),
        "min_heartbeat_interval": MIN_HEARTBEAT_INTERVAL_SECONDS,
        "db_pool_size": capacity.db_pool_size,
        "db_max_overflow": capacity.db_max_overflow,
    }


def default_pool_slots(capacity: Capacity) -> int:
    """Slots of `default_pool`, where every task without a pool runs: as many as the executor may queue and run
    (a pool counts queued tasks too)."""
    return executor_parallelism(capacity)


@dataclass(frozen=True)
class BudgetLine:
    role: str
    processes: int
    per_process: int
    why: str

    @property
    def connections(self) -> int:
        return self.processes * self.per_process


@dataclass(frozen=True)
class ConnectionBudget:
    """The most connections the cluster can open at once, line by line."""

    lines: tuple[BudgetLine, ...]
    deploy_factor: int = ROLLING_DEPLOY_FACTOR
    reserved: int = RESERVED_CONNECTIONS

    @property
    def steady(self) -> int:
        return sum(line.connections for line in self.lines)

    @property
    def total(self) -> int:
        """Steady state times the rolling-deploy overlap, plus the connections Airflow may not use."""
        return self.steady * self.deploy_factor + self.reserved

    def describe(self) -> str:
        parts = ", ".join(f"{line.role} {line.processes} x {line.per_process}" for line in self.lines)
        return f"{self.total} = ({parts}) x {self.deploy_factor} during a deploy + {self.reserved} reserved"


def connection_budget(capacity: Capacity) -> ConnectionBudget:
    """The worst case of database connections, read from the pinned sources.

    - Every Airflow process that configures the ORM has a sync engine of pool_size + max_overflow
      connections (airflow/settings.py, prepare_engine_args). The async engine gets the same pool
      (_configure_async_session) but connects only when an async endpoint runs: only in the api-server.
    - A Celery worker's result backend keeps one engine per forked pool child (celery/backends/database/
      session.py, SessionManager.get_engine when `forked`); a child runs one task at a time, so it holds one
      connection. The main process uses NullPool: one short-lived connection.
    - The api-server's master process keeps the connection its CLI start-up opened (`@action_cli` checks the
      database and logs the command: utils/cli.py), next to its uvicorn workers' engines.
    - The scheduler also reads task states from the result backend (celery_executor_utils.py,
      BulkStateFetcher): one kept connection, shared by every Celery app of the process
      (airflow_celery/scheduler/result_sessions.py, a pool of one without overflow; Celery's own NullPool engine
      opened one per read, one at a time).
    - The dag-processor's and the triggerer's health check (`airflow jobs check`, every 30 s) opens one.
    - The autoscaler sidecar in each scheduler task counts task instances over one NullPool connection.
    - Flower talks only to Redis. The migrate job runs in a scheduler task before its scheduler starts, with
      two connections (its advisory lock and Airflow's engine), fewer than the scheduler's line.
    """
    per_engine = capacity.db_pool_size + capacity.db_max_overflow
    lines = (
        BudgetLine(API_SERVER.name, capacity.api_servers, capacity.api_workers * 2 * per_engine + 1,
                   "sync and async engines in each uvicorn worker, one for the master process"),
        BudgetLine(SCHEDULER.name, capacity.schedulers, per_engine + 2,
                   "sync engine, the result backend's states and the autoscaler's counts (migrate runs before it)"),
        BudgetLine(DAG_PROCESSOR.name, 1, per_engine + 1, "sync engine and its health check"),
        BudgetLine(TRIGGERER.name, capacity.triggerers, per_engine + 1, "sync engine and its health check"),
        BudgetLine(WORKER.name, capacity.max_workers, capacity.worker_concurrency + 1,
                   "result backend: one per pool child, one for the main process"),
        *(BudgetLine(f"{WORKER.name} {q.name}", q.max_workers, q.concurrency + 1,
                     f"queue {q.name}: one per pool child, one for the main process") for q in capacity.extra_queues),
        BudgetLine(FLOWER.name, 1, 0, "broker only"),
    )  # fmt: skip
    return ConnectionBudget(lines=lines)


MEMORY_USABLE_SHARE = 0.8
"""Share of a task's memory the measured processes may fill (cluster/measured.py); the rest is for what the
measurement cannot know: the data a task loads, DAG files being parsed, the page cache."""

SCHEDULER_IDLE_SLEEP_SECONDS = 0.25
"""`[scheduler] scheduler_idle_sleep_time` (Airflow's default: 1 s), how long a scheduler loop that queued nothing
and saw no task end sleeps. With parallelism = slots, a slot freed by a finished task is refilled only by a later
loop, so on short tasks every freed slot waited up to this long. Measured (bench/benchmark.py, 2 cores,
2026-12-07), 1 s / 0.25 s / 0.1 s: 40 x 5 s on 1 worker x 4 slots 71.2 / 60.8 / 59.4 s, on 2 x 4 35.2 / 29.8 /
29.1 s, the demo 32.2 / 31.1 / 31.1 s; an idle cluster's scheduler 2.2 / 6.7 / 13.3 % of a core and its database
(PostgreSQL and its TLS relay) 2.5 / 5.1 / 9.2 %. 0.25 s keeps most of the gain for a third of 0.1 s's cost."""
SCHEDULER_IDLE_SLEEP_RANGE = (0.1, 5.0)
"""What `local up --scheduler-idle-sleep` accepts. The integration tests' clusters use Airflow's 1 s: four of them
share 2 cores, and an idle one spent 40 % of a core at 0.25 s against 22 % at 1 s (2026-12-07; README, Tests)."""

MIN_HEARTBEAT_INTERVAL_SECONDS = 5
"""`[workers] min_heartbeat_interval` of every cluster, Airflow's default: how often a running task's supervisor
heartbeats through the execution API. Until 2026-12-07 a cluster of up to 32 running tasks used 1 s, since a
finished task then freed its slot 0.3 s later on average against 1.5-3.5 s at 5 s. That delay was the supervisor's
wait for its task's exit, which worker/task_exit.py removes: both intervals now free the slot 0.15 s after the
task's end (measured.SLOT_RELEASE_SECONDS), and 1 s cost the api-server 3-6 times the CPU and the database 5 times
the task_instance writes per running task (measured.HEARTBEAT_CPU_PER_TASK, HEARTBEAT_TI_UPDATES_PER_S)."""
HEARTBEAT_INTERVAL_RANGE = (1, MIN_HEARTBEAT_INTERVAL_SECONDS)
"""What `local up --heartbeat-interval` accepts. The integration tests' clusters use 1 s with their 5 s watchdog
rounds: a lost worker's task is then stale after 3 rounds, 15 s, where 5 s heartbeats would make it 6 of them, 30 s
(reliability.watchdog_stale_after), so their failover test keeps its margin under the 90 s it asserts on a loaded
2-core machine (it took 64-65 s there, 2026-12-06)."""
EXECUTION_API_CPU_SHARE = 0.5
"""Share of an api-server's vCPU the Task Execution API may take at max tasks; the rest serves the UI and REST."""


SLOT_MEMORY_MIB = IDLE_SLOT_MEMORY_MIB + BUSY_SLOT_MEMORY_MIB
"""One busy slot, its pool child included: Celery forks a child per slot whether it runs a task or not."""


def worker_memory_needed(concurrency: int) -> int:
    """MiB a worker's own processes take with every slot busy: its main process plus one measured slot per task."""
    return WORKER_MAIN_MEMORY_MIB + concurrency * SLOT_MEMORY_MIB


def max_worker_concurrency(memory_mib: int) -> int:
    """The most slots whose measured memory fits a worker of `memory_mib`, headroom kept."""
    return max(0, int((memory_mib * MEMORY_USABLE_SHARE - WORKER_MAIN_MEMORY_MIB) // SLOT_MEMORY_MIB))


def health_checked_memory_needed(role_name: str) -> int:
    """MiB the dag-processor or triggerer needs: itself idle plus its `airflow jobs check`, with headroom."""
    return int((ROLE_IDLE_MEMORY_MIB[role_name] + JOBS_CHECK_MEMORY_MIB) / MEMORY_USABLE_SHARE) + 1


def execution_api_cores(capacity: Capacity) -> float:
    """Cores the api-servers spend together on task heartbeats with every slot busy (measured per task)."""
    return parallelism(capacity) * HEARTBEAT_CPU_PER_TASK[MIN_HEARTBEAT_INTERVAL_SECONDS]


def min_api_server_vcpu(capacity: Capacity) -> float:
    """vCPU each api-server needs so that the execution API takes at most EXECUTION_API_CPU_SHARE of it, with one
    api-server lost (of 2 or more): the others then carry every heartbeat."""
    survivors = max(1, capacity.api_servers - 1)
    return execution_api_cores(capacity) / survivors / EXECUTION_API_CPU_SHARE


TOOL_CONNECTIONS = 10
"""Room on a one-host database (local mode, compose) for a psql session, the CLI and tests beside the cluster."""
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


def single_host_max_connections(capacity: Capacity) -> int:
    """`max_connections` for the PostgreSQL of local mode and compose, whose default of 100 a few workers with many
    slots overrun: every process's worst case (no rolling deploy on one host), the reserved ones and some room."""
    budget = connection_budget(capacity)
    return max(POSTGRES_DEFAULT_MAX_CONNECTIONS, budget.steady + budget.reserved + TOOL_CONNECTIONS)
