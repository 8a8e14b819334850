import pytest

from airflow_celery.cluster import AIRFLOW_SERVICES, ENTRYPOINT_ROLES, EnvSettings, SecretName, role_environment
from airflow_celery.cluster.env import NODE_NAME_VAR, SHARED_SECRETS, secret_names_used
from airflow_celery.cluster.roles import ROLES, Kind
from tests.cluster_settings import settings_with

SETTINGS = settings_with(execution_api_url="http://api-server.airflow.internal:8080/execution/")


def env(name, **changes):
    settings = EnvSettings(**{**SETTINGS.__dict__, **changes})
    return role_environment(name, settings)


LEAST_PRIVILEGE = {
    "api-server": {"fernet-key", "jwt-secret", "api-secret-key", "database-url", "database-async-url"},
    "scheduler": {"fernet-key", "jwt-secret", "database-url", "database-async-url", "broker-url", "result-backend-url"},
    "dag-processor": {"fernet-key", "database-url", "database-async-url"},
    "triggerer": {"fernet-key", "api-secret-key", "database-url", "database-async-url"},
    "worker": {"api-secret-key", "broker-url", "result-backend-url"},
    "flower": {"broker-url", "flower-basic-auth"},
    "migrate": {"fernet-key", "database-url", "database-async-url", "admin-password", "result-backend-url"},
    "redis": {"redis-password"},
    "postgres": set(),
    # Counts task instances with plain SQLAlchemy: no async engine, no fernet.
    "autoscaler": {"database-url"},
    "watchdog": {"database-url", "broker-url"},
}


@pytest.mark.parametrize("r", ROLES, ids=lambda r: r.name)
def test_each_role_gets_exactly_the_secrets_it_reads(r):
    assert {str(name) for name in env(r.name).secrets.values()} == LEAST_PRIVILEGE[r.name]


@pytest.mark.parametrize("r", [r for r in ENTRYPOINT_ROLES if r.kind is not Kind.SIDECAR], ids=lambda r: r.name)
def test_a_shared_secret_comes_from_one_variable_wherever_it_is_read(r):
    e = env(r.name)
    for variable, secret in SHARED_SECRETS.items():
        assert e.secrets.get(variable, secret) is secret
    assert e.plain["AIRFLOW__API_AUTH__JWT_ISSUER"] == "airflow-celery"


def test_no_secret_is_ever_a_plain_value():
    for r in ROLES:
        e = env(r.name)
        assert not set(e.plain) & set(e.secrets)
        for variable in e.plain:
            assert not any(
                word in variable for word in ("PASSWORD", "SECRET", "FERNET", "SQL_ALCHEMY_CONN", "BROKER_URL")
            )


def test_the_core_contract():
    e = env("worker").plain
    assert e["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert e["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == SETTINGS.execution_api_url
    assert e["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "airflow.utils.net.get_host_ip_address"
    assert e["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    # Airflow's default: it must outlast an api-server outage; the watchdog finds lost workers sooner.
    assert int(e["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) == 300
    assert e["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "16"
    assert e["DUMB_INIT_SETSID"] == "0"


def test_dumb_init_setsid_only_on_workers():
    assert [r.name for r in ROLES if "DUMB_INIT_SETSID" in env(r.name).plain] == ["worker"]


def test_scheduler_health_check_is_on():
    e = env("scheduler").plain
    assert e["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert e["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "8974"


def test_secrets_follow_the_edges():
    with_broker = {r.name for r in ROLES if "AIRFLOW__CELERY__BROKER_URL" in env(r.name).secrets}
    assert with_broker == {"scheduler", "worker", "flower", "watchdog"}
    with_db = {r.name for r in ROLES if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env(r.name).secrets}
    assert with_db == {"api-server", "scheduler", "dag-processor", "triggerer", "migrate", "autoscaler", "watchdog"}
    with_result_backend = {r.name for r in ROLES if "AIRFLOW__CELERY__RESULT_BACKEND" in env(r.name).secrets}
    assert with_result_backend == {"scheduler", "worker", "migrate"}  # migrate creates its role
    # Every process that sets up Airflow's ORM builds the async engine too (airflow.settings.configure_orm).
    with_async_db = {r.name for r in ROLES if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" in env(r.name).secrets}
    assert with_async_db == with_db - {"autoscaler", "watchdog"}  # sidecars set up no ORM: plain sync engines
    assert env("flower").secrets["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] is SecretName.FLOWER_BASIC_AUTH
    assert env("redis").secrets == {"REDIS_PASSWORD": SecretName.REDIS_PASSWORD}
    assert env("postgres").secrets == {}


def test_port_overrides_reach_every_variable_that_names_the_port():
    e = env("api-server", ports={"api-server.http": 18080}, bind_host="127.0.0.1")
    assert e.plain["AIRFLOW__API__PORT"] == "18080"
    assert e.plain["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env("flower", ports={"flower.http": 15555}).plain["AIRFLOW__CELERY__FLOWER_PORT"] == "15555"


def test_each_local_worker_gets_its_own_node_name():
    settings = settings_with(execution_api_url="http://127.0.0.1:8080/execution/", node_host="box")
    names = {role_environment("worker", settings, instance=i).plain[NODE_NAME_VAR] for i in (1, 2, 3)}
    assert names == {"worker-1@box", "worker-2@box", "worker-3@box"}


def test_remote_logging_only_with_a_folder():
    assert "AIRFLOW__LOGGING__REMOTE_LOGGING" not in env("worker").plain
    e = env("worker", remote_log_folder="s3://bucket/logs", aws_region="eu-west-1").plain
    assert e["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://bucket/logs"
    assert e["AIRFLOW_CONN_AWS_DEFAULT"] == "aws://?region_name=eu-west-1"


def test_resolve_fills_in_secret_values():
    e = env("flower")
    values = {name: f"value-of-{name}" for name in SecretName}
    resolved = e.resolve(values)
    assert resolved["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] == "value-of-flower-basic-auth"
    assert resolved["AIRFLOW__CELERY__FLOWER_URL_PREFIX"] == "/flower"


def test_secret_names_used_covers_every_role():
    assert secret_names_used() == {
        SecretName.FERNET_KEY, SecretName.JWT_SECRET, SecretName.API_SECRET_KEY, SecretName.ADMIN_PASSWORD,
        SecretName.DATABASE_URL, SecretName.DATABASE_ASYNC_URL, SecretName.RESULT_BACKEND_URL, SecretName.BROKER_URL,
        SecretName.FLOWER_BASIC_AUTH,
        SecretName.REDIS_PASSWORD,
    }  # fmt: skip


def test_airflow_services_are_the_six_long_running_roles():
    assert len(AIRFLOW_SERVICES) == 6


def test_remote_logging_deletes_the_local_copy_after_upload():
    """[logging] delete_local_logs (Airflow config.yml, default False), read by the S3 task handler."""
    remote = env("worker", remote_log_folder="s3://bucket/logs").plain
    local = env("worker").plain

    assert remote["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"
    assert remote["AIRFLOW__LOGGING__DELETE_LOCAL_LOGS"] == "True"
    assert "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS" not in local


def test_delete_local_logs_is_a_key_of_the_pinned_airflow():
    import importlib.util
    from pathlib import Path

    import yaml

    airflow = Path(importlib.util.find_spec("airflow").origin).parent  # found, not imported
    config = yaml.safe_load((airflow / "config_templates" / "config.yml").read_text())
    handler = airflow / "providers" / "amazon" / "aws" / "log" / "s3_task_handler.py"

    assert config["logging"]["options"]["delete_local_logs"]["default"] == "False"
    assert 'conf.getboolean("logging", "delete_local_logs")' in handler.read_text()


def test_api_server_trusts_forwarded_headers_only_from_the_trusted_proxies():
    local = env("api-server")
    assert local.plain["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    assert "AIRFLOW__FAB__COOKIE_SECURE" not in local.plain
    behind_tls = role_environment(
        "api-server",
        settings_with(
            execution_api_url="http://x/execution/", public_base_url="https://airflow.example.com",
            trusted_proxies="10.0.0.0/16",
        ),
    )  # fmt: skip
    assert behind_tls.plain["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"
    assert behind_tls.plain["AIRFLOW__FAB__COOKIE_SECURE"] == "True"
    assert not any("FORWARDED" in var or "COOKIE" in var for var in env("scheduler").plain)


def test_uvicorn_takes_scheme_and_client_from_trusted_proxies_only():
    """What FORWARDED_ALLOW_IPS does in the pinned uvicorn (uvicorn/config.py reads the variable when
    Airflow passes no forwarded_allow_ips; uvicorn/middleware/proxy_headers.py applies it): a client's own
    X-Forwarded-For entries in front of the load balancer's are not believed."""
    proxy_headers = pytest.importorskip("uvicorn.middleware.proxy_headers")
    import asyncio

    seen = {}

    async def app(scope, receive, send):
        seen.update(scheme=scope["scheme"], client=scope["client"][0])

    middleware = proxy_headers.ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.0/16")
    headers = [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"6.6.6.6, 203.0.113.9")]

    def call(client: str) -> dict:
        scope = {"type": "http", "scheme": "http", "client": (client, 1234), "headers": headers}
        asyncio.run(middleware(scope, None, None))
        return dict(seen)

    assert call("10.0.1.17") == {"scheme": "https", "client": "203.0.113.9"}  # the load balancer
    assert call("198.51.100.7") == {"scheme": "http", "client": "198.51.100.7"}  # anyone else


@pytest.mark.parametrize("r", [r for r in ENTRYPOINT_ROLES if r.kind in (Kind.AIRFLOW, Kind.JOB)], ids=lambda r: r.name)
def test_every_airflow_role_gets_the_same_default_task_retries(r):
    """Read where DAGs are parsed and by the scheduler (through the serialized DAG): one value for all."""
    e = env(r.name, default_task_retries=3, default_task_retry_delay=42).plain
    assert e["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"] == "3"
    assert e["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"] == "42"


@pytest.mark.parametrize("interval", [1, 5])
def test_default_retries_are_production_minded_and_retry_a_lost_worker_within_90_s(interval):
    """Airflow's 0 fails a run on the first lost worker; the retry comes when the watchdog has handed the task to
    the scheduler's heartbeat check (reliability.lost_task_retry_within) plus the retry delay."""
    from airflow_celery.cluster.reliability import lost_task_retry_within

    e = env("scheduler", min_heartbeat_interval=interval).plain
    assert int(e["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"]) >= 1
    waited = lost_task_retry_within(interval)
    assert waited + int(e["AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY"]) <= 90


def test_only_the_scheduler_gets_the_shorter_idle_sleep():
    assert [r.name for r in ROLES if "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME" in env(r.name).plain] == [
        "scheduler"
    ]
    assert float(env("scheduler").plain["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"]) == 0.25


def test_the_idle_sleep_is_what_the_pinned_schedulers_loop_sleeps_when_it_did_nothing():
    import importlib.util
    from pathlib import Path

    import yaml

    airflow = Path(importlib.util.find_spec("airflow").origin).parent  # found, not imported
    option = yaml.safe_load((airflow / "config_templates" / "config.yml").read_text())["scheduler"]["options"]
    assert (option["scheduler_idle_sleep_time"]["type"], option["scheduler_idle_sleep_time"]["default"]) == (
        "float",
        "1",
    )
    loop = (airflow / "jobs" / "scheduler_job_runner.py").read_text()
    assert 'conf.getfloat("scheduler", "scheduler_idle_sleep_time")' in loop
    assert "idle_in_this_run = not num_queued_tis and not num_finished_events" in loop
    assert "time.sleep(min(self._scheduler_idle_sleep_time, next_event or 0))" in loop
