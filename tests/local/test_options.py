import pytest

from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import BOUND_PORTS, validate_up_options


@pytest.mark.parametrize(
    ("workers", "concurrency", "message"),
    [
        (0, 4, r"--workers=0 is out of range; allowed: 1 to 8"),
        (9, 4, r"--workers=9 is out of range; allowed: 1 to 8"),
        (2, 0, r"--concurrency=0 is out of range; allowed: 1 to 64"),
        (2, 65, r"--concurrency=65 is out of range; allowed: 1 to 64"),
    ],
)
def test_counts_out_of_range_name_option_value_and_range(tmp_path, workers, concurrency, message):
    with pytest.raises(LocalError, match=message):
        validate_up_options(workers, concurrency, tmp_path / "state", tmp_path)


def test_missing_dags_dir_is_named(tmp_path):
    with pytest.raises(LocalError, match=r"--dags-dir=.*nope is not an existing directory"):
        validate_up_options(1, 1, tmp_path / "state", tmp_path / "nope")


def test_state_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LocalError, match=r"--state-dir=.*file exists and is not a directory"):
        validate_up_options(1, 1, tmp_path / "file", tmp_path)


def test_state_dir_too_long_for_unix_sockets(tmp_path):
    with pytest.raises(LocalError, match=r"--state-dir=.* is too long"):
        validate_up_options(1, 1, tmp_path / ("x" * 120), tmp_path)


def test_port_overrides_are_checked(tmp_path):
    with pytest.raises(LocalError, match=r"--port 'web=1' is not KEY=NUMBER with KEY one of: postgres.postgres"):
        validate_up_options(1, 1, tmp_path / "s", tmp_path, ["web=1"])
    with pytest.raises(LocalError, match=r"--port api-server.http='80': the port must be a number from 1024"):
        validate_up_options(1, 1, tmp_path / "s", tmp_path, ["api-server.http=80"])
    with pytest.raises(LocalError, match=r"--port flower.http=8080 clashes with api-server.http=8080"):
        validate_up_options(1, 1, tmp_path / "s", tmp_path, ["flower.http=8080"])


def test_defaults_come_from_the_description(options):
    assert set(options.ports) == set(BOUND_PORTS)
    assert options.ports == {
        "postgres.postgres": 5432,
        "redis.redis": 6379,
        "api-server.http": 8080,
        "scheduler.health": 8974,
        "flower.http": 5555,
        "metrics.statsd": 8125,  # StatsD's port (cluster/metrics.py), UDP
    }
    assert options.state_dir.is_absolute()
    assert not options.state_dir.exists(), "validation must not create anything"


@pytest.mark.parametrize("schedulers", [0, 5])
def test_schedulers_out_of_range(tmp_path, schedulers):
    with pytest.raises(LocalError, match=rf"--schedulers={schedulers} is out of range; allowed: 1 to 4"):
        validate_up_options(1, 1, tmp_path / "state", tmp_path, schedulers=schedulers)


def test_each_extra_scheduler_takes_the_next_health_port(tmp_path):
    options = validate_up_options(1, 1, tmp_path / "state", tmp_path, ["scheduler.health=18974"], schedulers=3)
    assert options.schedulers == 3
    assert options.ports["scheduler.health"] == 18974
    assert options.ports["scheduler-2.health"] == 18975
    assert options.ports["scheduler-3.health"] == 18976


def test_an_extra_scheduler_port_clash_names_the_option_to_change(tmp_path):
    with pytest.raises(LocalError, match=r"scheduler 2's health port \(scheduler.health \+ 1 = 5556\) clashes with "
                       r"flower.http=5556; choose another --port scheduler.health=NUMBER"):  # fmt: skip
        validate_up_options(
            1, 1, tmp_path / "state", tmp_path, ["scheduler.health=5555", "flower.http=5556"], schedulers=2
        )


@pytest.mark.parametrize(
    ("watchdog_interval", "task_retry_delay", "message"),
    [
        (1, 15, r"--watchdog-interval=1 is out of range; allowed: 2 to 60"),
        (61, 15, r"--watchdog-interval=61 is out of range; allowed: 2 to 60"),
        (10, -1, r"--task-retry-delay=-1 is out of range; allowed: 0 to 86400"),
    ],
)
def test_failover_timings_out_of_range_are_named(tmp_path, watchdog_interval, task_retry_delay, message):
    with pytest.raises(LocalError, match=message):
        validate_up_options(
            2, 4, tmp_path / "state", tmp_path, watchdog_interval=watchdog_interval, task_retry_delay=task_retry_delay
        )


def test_failover_timings_reach_the_env_contract_and_survive_the_state_dir(tmp_path):
    """`local up --watchdog-interval 5 --task-retry-delay 2` (the test clusters): the watchdog's rounds and stale age,
    and Airflow's default retry delay, through EnvSettings; `status`/`down` read them back from cluster.json."""
    from airflow_celery.cluster import role_environment
    from airflow_celery.local.options import cluster_settings
    from airflow_celery.local.state import StatePaths, create_state_dir, load_options, save_options

    options = validate_up_options(
        2, 4, tmp_path / "state", tmp_path, watchdog_interval=5, task_retry_delay=2, heartbeat_interval=1
    )
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    save_options(paths, options, "host")
    loaded, _ = load_options(paths)
    assert (loaded.watchdog_interval, loaded.task_retry_delay, loaded.heartbeat_interval) == (5, 2, 1)
    settings = cluster_settings(loaded, paths.airflow_home, "host")
    watchdog = role_environment("watchdog", settings).plain
    assert watchdog["AIRFLOW_CELERY_WATCHDOG_INTERVAL"] == "5"
    assert watchdog["AIRFLOW_CELERY_WATCHDOG_STALE_AFTER"] == "15"  # 3 rounds, more than 6 heartbeats of 1 s
    assert role_environment("scheduler", settings).plain["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"] == "2"
    for role in ("worker", "scheduler"):
        assert role_environment(role, settings).plain["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "1"


def test_the_heartbeat_interval_is_the_clusters_5_s_unless_asked_and_out_of_range_is_named(tmp_path):
    from airflow_celery.cluster import role_environment
    from airflow_celery.local.options import cluster_settings

    options = validate_up_options(2, 4, tmp_path / "state", tmp_path)
    settings = cluster_settings(options, tmp_path / "home", "host")
    assert role_environment("worker", settings).plain["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "5"
    for seconds in (0, 6):
        with pytest.raises(LocalError, match=rf"--heartbeat-interval={seconds} is out of range"):
            validate_up_options(2, 4, tmp_path / "state", tmp_path, heartbeat_interval=seconds)


@pytest.mark.parametrize("seconds", [0.05, 5.5])
def test_a_scheduler_idle_sleep_out_of_range_is_named(tmp_path, seconds):
    with pytest.raises(LocalError, match=rf"--scheduler-idle-sleep={seconds:g} is out of range; allowed: 0.1 to 5 s"):
        validate_up_options(2, 4, tmp_path / "state", tmp_path, scheduler_idle_sleep=seconds)


def test_the_scheduler_idle_sleep_reaches_the_schedulers_and_survives_the_state_dir(tmp_path):
    """`local up --scheduler-idle-sleep 1` (the test clusters: Airflow's default, for less CPU than 0.25 s)."""
    from airflow_celery.cluster import role_environment
    from airflow_celery.local.options import cluster_settings
    from airflow_celery.local.state import StatePaths, create_state_dir, load_options, save_options

    options = validate_up_options(2, 4, tmp_path / "state", tmp_path, schedulers=2, scheduler_idle_sleep=1)
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    save_options(paths, options, "host")
    loaded, _ = load_options(paths)
    assert loaded.scheduler_idle_sleep == 1
    settings = cluster_settings(loaded, paths.airflow_home, "host")
    for instance in (1, 2):
        env = role_environment("scheduler", settings, instance=instance).plain
        assert float(env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"]) == 1
    default = validate_up_options(2, 4, tmp_path / "state", tmp_path)
    scheduler = role_environment("scheduler", cluster_settings(default, paths.airflow_home, "host")).plain
    assert float(scheduler["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"]) == 0.25


TOPIC = "arn:aws:sns:us-east-1:123456789012:local-alarms"


def test_notify_sns_needs_its_endpoint_and_an_sns_arn(tmp_path):
    with pytest.raises(LocalError, match=r"--notify-sns TOPIC_ARN and --notify-sns-endpoint URL go together"):
        validate_up_options(1, 1, tmp_path / "state", tmp_path, failure_topic=TOPIC)
    with pytest.raises(LocalError, match=r"--notify-sns: .* is not an SNS topic ARN"):
        validate_up_options(1, 1, tmp_path / "state", tmp_path, failure_topic="nope", sns_endpoint="http://127.0.0.1:1")


def test_notify_sns_reaches_the_dag_processor_env_and_survives_a_restart(tmp_path):
    from airflow_celery.cluster.env import role_environment
    from airflow_celery.local.options import cluster_settings
    from airflow_celery.local.state import StatePaths, create_state_dir, load_options, save_options

    options = validate_up_options(
        1, 1, tmp_path / "state", tmp_path, failure_topic=TOPIC, sns_endpoint="http://127.0.0.1:5000"
    )
    env = role_environment("dag-processor", cluster_settings(options, tmp_path / "home", "box")).plain
    assert env["AIRFLOW_CELERY_DAG_FAILURE_TOPIC_ARN"] == TOPIC
    assert env["AWS_ENDPOINT_URL_SNS"] == "http://127.0.0.1:5000"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"  # moto's placeholder keys, only with a stand-in endpoint
    scheduler = role_environment("scheduler", cluster_settings(options, tmp_path / "home", "box")).plain
    assert "AIRFLOW_CELERY_DAG_FAILURE_TOPIC_ARN" not in scheduler and "AWS_ACCESS_KEY_ID" not in scheduler
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    save_options(paths, options, "box")
    restored, _ = load_options(paths)
    assert (restored.failure_topic_arn, restored.sns_endpoint_url) == (TOPIC, "http://127.0.0.1:5000")
