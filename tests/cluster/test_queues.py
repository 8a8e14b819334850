"""Worker queues as plain data: the env contract, the summed limits, the scaling JSON."""

from airflow_celery.cluster.env import (
    CONCURRENCY_VAR,
    NODE_NAME_VAR,
    role_environment,
)
from airflow_celery.cluster.limits import Capacity, QueueSlots, connection_budget, executor_parallelism
from airflow_celery.cluster.queues import (
    QUEUE_NAME,
    QUEUES_SCALING_VAR,
    WORKER_QUEUE_VAR,
    WORKER_QUEUES_VAR,
    QueueScaling,
    parse_queues_scaling,
    queues_scaling_text,
)
from airflow_celery.cluster.roles import WORKER
from airflow_celery.entrypoint.start import role_argv
from tests.cluster_settings import settings_with

HEAVY = QueueScaling("heavy", 0, 2, 4)
SETTINGS = settings_with(execution_api_url="http://api/execution/", worker_queues=(HEAVY,))


def test_an_extra_queues_worker_consumes_it_alone_with_its_own_slots():
    env = role_environment("worker", SETTINGS, instance=1, queue="heavy").plain
    assert env[WORKER_QUEUE_VAR] == "heavy"
    assert env[CONCURRENCY_VAR] == "4"
    assert env[NODE_NAME_VAR] == "worker-heavy-1@%h"
    argv = role_argv(WORKER, env)
    assert argv[argv.index("--queues") + 1] == "heavy"


def test_the_default_queues_worker_is_unchanged_by_other_queues():
    plain = settings_with(execution_api_url="http://api/execution/")
    with_queues = role_environment("worker", SETTINGS).plain
    assert with_queues.pop(WORKER_QUEUES_VAR) == "default,heavy"  # for the queue policy only
    assert with_queues == role_environment("worker", plain).plain
    assert "--queues" not in role_argv(WORKER, role_environment("worker", SETTINGS).plain)


def test_without_queues_no_variable_of_theirs_is_set():
    plain = settings_with(execution_api_url="http://api/execution/", worker_min_count=1, worker_max_count=3)
    for name in ("worker", "dag-processor", "autoscaler", "scheduler"):
        env = role_environment(name, plain).plain
        assert not {WORKER_QUEUE_VAR, WORKER_QUEUES_VAR, QUEUES_SCALING_VAR} & set(env)


def test_every_airflow_role_knows_every_queue_and_the_autoscaler_the_scaling_ones():
    # The queue policy runs wherever DAG files are parsed: the dag-processor and every task's runner.
    for name in ("dag-processor", "worker", "scheduler", "api-server", "triggerer"):
        assert role_environment(name, SETTINGS).plain[WORKER_QUEUES_VAR] == "default,heavy"
    env = role_environment("autoscaler", SETTINGS).plain
    assert parse_queues_scaling(env[QUEUES_SCALING_VAR]) == (HEAVY,)
    assert SETTINGS.autoscaling and not SETTINGS.default_autoscaling
    fixed = QueueScaling("fixed", 2, 2, 4)
    assert parse_queues_scaling(queues_scaling_text((fixed,))) == ()


def test_parallelism_and_connections_sum_every_queue_at_its_max():
    alone = Capacity(max_workers=2, worker_concurrency=16)
    both = Capacity(max_workers=2, worker_concurrency=16, extra_queues=(QueueSlots("heavy", 3, 4),))
    assert executor_parallelism(both) == executor_parallelism(alone) + 3 * 4
    assert connection_budget(both).steady == connection_budget(alone).steady + 3 * (4 + 1)
    assert "worker heavy 3 x 5" in connection_budget(both).describe()


def test_queue_names_celery_and_aws_accept():
    for good in ("heavy", "gpu-1", "a"):
        assert QUEUE_NAME.fullmatch(good)
    for bad in ("Heavy", "a,b", "a b", "-a", "a-", "a--b", "x" * 13, "1a", "a_b"):
        assert not QUEUE_NAME.fullmatch(bad), bad


def test_the_queue_policy_knows_the_served_queues_and_names_the_task_and_queue():
    from airflow_celery.cluster.queue_policy import served_queues, unserved_queue_message

    assert served_queues({}) == ("default",)
    assert served_queues({"AIRFLOW__OPERATORS__DEFAULT_QUEUE": "main"}) == ("main",)
    assert served_queues({WORKER_QUEUES_VAR: "default,heavy"}) == ("default", "heavy")
    message = unserved_queue_message("etl", "load", "nowhere", ("default", "heavy"))
    assert "task 'load' of DAG 'etl' is on queue 'nowhere'" in message
    assert "The queues are: default, heavy" in message


def test_the_image_ships_the_queue_policy_where_airflow_imports_it():
    from pathlib import Path

    from airflow_celery.cluster.queue_policy import LOCAL_SETTINGS

    root = Path(__file__).resolve().parents[2]
    assert (root / "image" / "airflow_local_settings.py").read_text() == LOCAL_SETTINGS
    dockerfile = (root / "image" / "Dockerfile").read_text()
    # The official image's AIRFLOW_HOME is /opt/airflow; Airflow puts $AIRFLOW_HOME/config on sys.path
    # (settings.prepare_syspath_for_config_and_plugins) and imports airflow_local_settings from it.
    assert "image/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py" in dockerfile
    assert "!image/airflow_local_settings.py" in (root / ".dockerignore").read_text()
