"""The connection budget against RDS max_connections, and per-role counts, as resolve_args and the stacks see them."""

from __future__ import annotations

import pytest

from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.aws.rds_limits import INSTANCE_CLASS_MEMORY_GIB, max_connections
from airflow_celery.cluster.limits import Capacity, connection_budget
from tests.aws import assertions
from tests.aws.test_stacks import Deployed, deploy


def test_max_connections_is_the_parameter_group_formula_on_the_usable_memory_share():
    # LEAST(DBInstanceClassMemory/9531392, 5000) with DBInstanceClassMemory = 75 % of 4 GiB
    assert max_connections("db.t4g.medium") == int(4 * 1024**3 * 0.75 // 9531392) == 337
    assert max_connections("db.r7g.16xlarge") == 5000


def test_every_accepted_class_has_a_known_memory():
    assert all(gib >= 1 for gib in INSTANCE_CLASS_MEMORY_GIB.values())
    assert {"db.t4g.small", "db.m7g.large"} <= set(INSTANCE_CLASS_MEMORY_GIB)


def stack_capacity(deployed: Deployed) -> Capacity:
    """The stack's processes at the most, read back from its config (an empty workerMaxCount follows workerCount)."""
    return Capacity(
        api_servers=deployed.setting("apiServerCount"),
        schedulers=deployed.setting("schedulerCount"),
        triggerers=deployed.setting("triggererCount"),
        max_workers=deployed.setting("workerMaxCount") or deployed.setting("workerCount"),
        worker_concurrency=deployed.setting("workerConcurrency"),
        db_pool_size=deployed.setting("dbPoolSize"),
        db_max_overflow=deployed.setting("dbMaxOverflow"),
    )


@pytest.mark.parametrize(("stack", "at_max"), [("dev", 1), ("prod", 10)])
def test_each_stack_at_its_max_workers_fits_its_database(stack, at_max):
    """Running the program is the check (resolve_args refuses a budget over the limit); the figures say by how much."""
    deployed = deploy(stack, workerCount=at_max)
    capacity = stack_capacity(deployed)

    assert capacity.max_workers == at_max
    assert connection_budget(capacity).total <= max_connections(deployed.setting("dbInstanceClass"))
    services = assertions.services_by_role(deployed.mocks)
    assert services["worker"].inputs["desiredCount"] == at_max


def test_an_oversized_cluster_names_the_budget_the_limit_and_the_ways_out():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"worker_max_count": 100, "worker_count": 1, "worker_concurrency": 24,
                                 "db_instance_class": "db.t4g.micro"})  # fmt: skip

    message = str(caught.value)
    assert caught.value.key == "db_instance_class"
    assert "about 84 here" in message  # the limit
    assert "worst case of 5127 = " in message and "during a deploy" in message  # the budget
    for way_out in ("a bigger class", "worker_max_count", "worker_concurrency", "db_pool_size"):
        assert way_out in message


def test_prod_runs_two_of_each_role_that_must_not_be_single_and_dev_one():
    for stack, expected in (("dev", 1), ("prod", 2)):
        services = assertions.services_by_role(deploy(stack).mocks)
        for name in ("api-server", "scheduler", "triggerer"):
            assert services[name].inputs["desiredCount"] == expected, (stack, name)


def test_prod_at_max_workers_gets_parallelism_and_pool_for_all_their_slots():
    deployed = deploy("prod")
    max_workers, concurrency = deployed.setting("workerMaxCount"), deployed.setting("workerConcurrency")

    for container in assertions.airflow_containers(deployed.mocks):
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        # every slot, and no task waiting in the broker behind them (limits.WAITING_TASKS_PER_SLOT)
        assert env["AIRFLOW__CORE__PARALLELISM"] == str(max_workers * concurrency), container["name"]
        assert env["AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT"] == str(max_workers * concurrency)


def test_the_error_suggests_the_smallest_class_of_the_family_that_fits():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"worker_count": 4, "db_instance_class": "db.t4g.small"})

    assert "a bigger class such as db.t4g.medium" in str(caught.value)


def test_a_concurrency_whose_slots_do_not_fit_the_worker_is_refused_with_the_measured_figures():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"worker_concurrency": 40})

    assert caught.value.key == "worker_concurrency"
    message = str(caught.value)
    assert "at most 27 slots on a worker of 3072 MiB" in message
    assert "87 MiB" in message and "2026-11-30" in message and "role_sizes.worker.memory" in message
    # More memory makes room: 34 + 40 x 87 = 3514 MiB fits 80 % of 5 GB.
    bigger = {"worker": {"cpu": 1024, "memory": 5120}}
    resolve_args("airflow", {"worker_concurrency": 40, "role_sizes": bigger, "db_instance_class": "db.t4g.medium"})


def test_a_triggerer_too_small_for_its_health_check_is_refused():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"role_sizes": {"triggerer": {"cpu": 256, "memory": 512}}})

    assert caught.value.key == "role_sizes.triggerer"
    assert "airflow jobs check" in str(caught.value) and "at least 579 MiB" in str(caught.value)


def test_too_few_api_servers_for_the_heartbeats_of_every_slot_is_refused():
    args = {"worker_count": 1, "worker_max_count": 100, "worker_concurrency": 16, "db_instance_class": "db.r7g.4xlarge"}
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", args)

    assert caught.value.key == "api_server_count"
    assert "1600 running tasks" in str(caught.value) and "every 5 s" in str(caught.value)
    # 2.5 cores: on 1-vCPU api-servers, half of each on the 5 left after losing one.
    resolve_args(
        "airflow", {**args, "api_server_count": 6, "role_sizes": {"api-server": {"cpu": 1024, "memory": 2048}}}
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_heartbeats_every_5_s(stack):
    for container in assertions.airflow_containers(deploy(stack).mocks):
        env = {item["name"]: item["value"] for item in container.get("environment", [])}
        assert env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "5", container["name"]
        assert env["AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS"] == "37", container["name"]
