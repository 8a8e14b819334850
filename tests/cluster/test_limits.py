"""cluster/limits.py: capacity follows the worker count, and the connection budget counts every process."""

from __future__ import annotations

from dataclasses import replace

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.limits import (
    RESERVED_CONNECTIONS,
    ROLLING_DEPLOY_FACTOR,
    WAITING_TASKS_PER_SLOT,
    Capacity,
    capacity_settings,
    connection_budget,
    default_pool_slots,
    executor_parallelism,
    parallelism,
)
from tests.cluster_settings import settings_with


@pytest.mark.parametrize(("workers", "concurrency", "expected"), [(1, 16, 16), (10, 16, 160), (3, 2, 6), (0, 8, 8)])
def test_parallelism_is_every_slot_of_the_most_workers(workers, concurrency, expected):
    capacity = Capacity(max_workers=workers, worker_concurrency=concurrency)

    assert parallelism(capacity) == expected


@pytest.mark.parametrize(("workers", "concurrency", "slots"), [(1, 4, 4), (10, 16, 160), (3, 2, 6)])
def test_the_executor_queues_no_more_tasks_than_there_are_slots(workers, concurrency, slots):
    """No task waits in the broker behind busy slots, where `task_queued_timeout` would fail it; the default pool
    counts queued tasks too, so it gets the same number."""
    capacity = Capacity(max_workers=workers, worker_concurrency=concurrency)

    assert WAITING_TASKS_PER_SLOT == 0
    assert executor_parallelism(capacity) == default_pool_slots(capacity) == slots
    settings = capacity_settings(capacity)
    assert settings["parallelism"] == slots


def test_the_env_contract_carries_parallelism_the_default_pool_and_the_db_pool():
    settings = settings_with(
        execution_api_url="http://a/execution/", parallelism=160, db_pool_size=4, db_max_overflow=2
    )

    for name in ("scheduler", "api-server", "worker", "migrate"):
        plain = role_environment(name, settings).plain
        assert plain["AIRFLOW__CORE__PARALLELISM"] == "160", name
        assert plain["AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT"] == "160", name
        assert plain["AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE"] == "4", name
        assert plain["AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW"] == "2", name


def test_budget_by_hand_for_prod_at_max():
    capacity = Capacity(api_servers=2, api_workers=2, schedulers=2, triggerers=2, max_workers=10,
                        worker_concurrency=16, db_pool_size=5, db_max_overflow=3)  # fmt: skip
    budget = connection_budget(capacity)
    lines = {line.role: line.connections for line in budget.lines}

    # api-server: 2 tasks x (2 uvicorn workers x (sync + async) x (5 + 3) + the master process's one)
    # scheduler task: (5 + 3) + the result backend's states + the autoscaler sidecar's counts;
    # dag-processor, triggerer: (5 + 3) + the health check
    assert lines == {"api-server": 66, "scheduler": 20, "dag-processor": 9, "triggerer": 18, "worker": 170, "flower": 0}
    assert budget.total == 283 * ROLLING_DEPLOY_FACTOR + RESERVED_CONNECTIONS == 571
    assert "571 = (api-server 2 x 33" in budget.describe()


def test_budget_grows_with_every_count():
    base = Capacity()
    total = connection_budget(base).total
    for field in ("api_servers", "schedulers", "triggerers", "max_workers", "worker_concurrency", "db_pool_size"):
        assert connection_budget(replace(base, **{field: getattr(base, field) + 1})).total > total, field


def test_worker_density_from_the_measured_slot():
    from airflow_celery.cluster.limits import (
        MEMORY_USABLE_SHARE,
        SLOT_MEMORY_MIB,
        max_worker_concurrency,
        worker_memory_needed,
    )
    from airflow_celery.cluster.measured import WORKER_MAIN_MEMORY_MIB
    from airflow_celery.cluster.roles import WORKER

    assert worker_memory_needed(16) == WORKER_MAIN_MEMORY_MIB + 16 * SLOT_MEMORY_MIB
    # ... which is what a busy 16-slot worker measured: 1422-1423 MiB.
    assert 1400 < worker_memory_needed(16) < 1450
    # The default worker (3 GB) holds its 16 slots with room to spare for the tasks' own data.
    assert worker_memory_needed(16) <= WORKER.size.memory * MEMORY_USABLE_SHARE
    most = max_worker_concurrency(WORKER.size.memory)
    assert worker_memory_needed(most) <= WORKER.size.memory * MEMORY_USABLE_SHARE < worker_memory_needed(most + 1)
    assert max_worker_concurrency(100) == 0


def test_dag_processor_and_triggerer_defaults_hold_themselves_and_their_health_check():
    from airflow_celery.cluster.limits import health_checked_memory_needed
    from airflow_celery.cluster.measured import JOBS_CHECK_MEMORY_MIB, ROLE_IDLE_MEMORY_MIB
    from airflow_celery.cluster.roles import DAG_PROCESSOR, TRIGGERER

    for r in (DAG_PROCESSOR, TRIGGERER):
        needed = health_checked_memory_needed(r.name)
        assert needed > ROLE_IDLE_MEMORY_MIB[r.name] + JOBS_CHECK_MEMORY_MIB
        assert r.size.memory >= needed, r.name


@pytest.mark.parametrize(("workers", "concurrency"), [(2, 4), (1, 16), (2, 16), (3, 16), (10, 16)])
def test_every_cluster_heartbeats_every_5_s_now_that_a_freed_slot_does_not_wait_for_it(workers, concurrency):
    """Airflow's default at every size: with the exit watch a 5 s heartbeat frees a slot as soon as 1 s did
    (measured.SLOT_RELEASE_SECONDS), for a fifth of the api-server's heartbeat work."""
    from airflow_celery.cluster.limits import MIN_HEARTBEAT_INTERVAL_SECONDS

    capacity = Capacity(max_workers=workers, worker_concurrency=concurrency)
    assert capacity_settings(capacity)["min_heartbeat_interval"] == MIN_HEARTBEAT_INTERVAL_SECONDS == 5
    settings = settings_with(execution_api_url="http://a/execution/", **capacity_settings(capacity))
    assert role_environment("worker", settings).plain["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "5"


def test_execution_api_cpu_at_prod_max_by_hand():
    from airflow_celery.cluster.limits import execution_api_cores, min_api_server_vcpu

    prod_max = Capacity(api_servers=2, max_workers=10, worker_concurrency=16)
    # 160 tasks at 5 s: 5 % of a core per 32 tasks (bench/capacity.py) -> 0.25 cores, all on the one api-server
    # left when the other is lost, which may give half of its vCPU -> 0.5 vCPU: the default api-server size.
    assert execution_api_cores(prod_max) == pytest.approx(0.25)
    assert min_api_server_vcpu(prod_max) == pytest.approx(0.5)


def test_a_one_host_database_gets_room_for_every_process():
    from airflow_celery.cluster.limits import single_host_max_connections

    assert single_host_max_connections(Capacity(api_workers=1, max_workers=2, worker_concurrency=4)) == 100
    big = Capacity(api_workers=1, max_workers=8, worker_concurrency=64)
    assert single_host_max_connections(big) == connection_budget(big).steady + RESERVED_CONNECTIONS + 10 > 520
