"""airflow_celery/flower.py: Flower's options and app from the env contract, refusals by name, no Airflow import, and
a real Flower on a real Redis (the pinned provider's side: tests/test_flower_airflow.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import psutil
import pytest

from airflow_celery import flower
from airflow_celery.cluster import role_environment
from tests.celery_support import free_port, redis_server, stop_group, wait_until
from tests.cluster_settings import settings_with

BROKER_URL = "redis://:broker-secret@redis:6379/0"
BASIC_AUTH = "admin:flower-secret"


def contract_env() -> dict[str, str]:
    """Flower's environment as the env contract makes it, with its two secrets' values filled in."""
    env = role_environment("flower", settings_with(execution_api_url="http://x/execution/"))
    values = {"AIRFLOW__CELERY__BROKER_URL": BROKER_URL, "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": BASIC_AUTH}
    assert set(env.secrets) == set(values)
    return {**env.plain, **values}


def test_the_variable_names_are_the_env_contracts():
    """flower.py spells them out instead of importing cluster/env.py (its module comment): they must not drift."""
    from airflow_celery.cluster import env as contract

    assert flower.VISIBILITY_TIMEOUT_VAR == contract.VISIBILITY_TIMEOUT_VAR
    assert flower.DEFAULT_QUEUE_VAR == contract.DEFAULT_QUEUE_VAR
    secrets = role_environment("flower", settings_with(execution_api_url="http://x/execution/")).secrets
    assert set(secrets) == {flower.BROKER_URL_VAR, flower.BASIC_AUTH_VAR}


def test_the_env_contract_gives_flower_its_address_port_prefix_and_basic_auth():
    env = contract_env()
    host, port = env["AIRFLOW__CELERY__FLOWER_HOST"], env["AIRFLOW__CELERY__FLOWER_PORT"]
    assert flower.flower_argv(env) == [
        "flower",
        f"--address={host}",
        f"--port={port}",
        "--url-prefix=/flower",
        f"--basic-auth={BASIC_AUTH}",
    ]


def test_the_app_has_the_broker_the_default_queue_and_the_visibility_timeout_of_the_env_contract():
    env = contract_env()
    queue = env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    assert flower.celery_config(env) == {
        "broker_url": BROKER_URL,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "task_default_exchange": queue,
        "accept_content": ["json"],
        "event_serializer": "json",
        "broker_transport_options": {"visibility_timeout": int(env[flower.VISIBILITY_TIMEOUT_VAR])},
    }


def test_unset_options_take_the_providers_defaults_and_empty_ones_are_not_passed():
    assert flower.flower_argv({}) == ["flower", "--address=0.0.0.0", "--port=5555"]
    env = {"AIRFLOW__CELERY__BROKER_URL": BROKER_URL, "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": ""}
    assert flower.flower_argv(env) == ["flower", "--address=0.0.0.0", "--port=5555"]
    assert flower.celery_config(env)["task_default_queue"] == "default"


@pytest.mark.parametrize(
    "variable, value",
    [
        ("AIRFLOW__CELERY__SSL_ACTIVE", "True"),
        ("AIRFLOW__CELERY__EXTRA_CELERY_CONFIG", '{"broker_pool_limit": 1}'),
        ("AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS", "my.module.CONFIG"),
        ("AIRFLOW__CELERY__BROKER_URL_CMD", "cat /run/broker"),
        ("AIRFLOW__CELERY__FLOWER_BASIC_AUTH_SECRET", "flower/auth"),
        ("AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX", "airflow:"),
    ],
)
def test_an_option_not_carried_over_is_refused_by_name(variable, value):
    with pytest.raises(flower.FlowerConfigError, match=f"^{variable} is set, and airflow_celery.flower does not"):
        flower.celery_config({**contract_env(), variable: value})


def test_what_airflow_would_not_read_either_is_accepted():
    """TLS turned off, and `_CMD` of an option that is not sensitive (Airflow reads `_CMD` only for those)."""
    env = {**contract_env(), "AIRFLOW__CELERY__SSL_ACTIVE": "False", "AIRFLOW__CELERY__FLOWER_PORT_CMD": "echo 1"}
    assert flower.celery_config(env) == flower.celery_config(contract_env())


def test_a_missing_broker_url_or_a_bad_timeout_is_one_line_and_exit_78_before_celery_starts(capsys):
    assert flower.main([], {}) == 78
    assert capsys.readouterr().err == (
        "airflow_celery.flower: AIRFLOW__CELERY__BROKER_URL is not set: Flower needs the cluster's broker URL\n"
    )
    env = {**contract_env(), flower.VISIBILITY_TIMEOUT_VAR: "1h"}
    assert flower.main([], env) == 78
    assert (
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT='1h': a whole number" in capsys.readouterr().err
    )


STARTED_WITHOUT_SERVING = """
import sys
from flower.app import Flower
from airflow_celery import flower

Flower.start = lambda self: print("flower built, not served")
assert flower.main([], {"AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:1/0"}) == 0
print(sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow.")))
"""


def test_starting_flower_imports_no_airflow():
    """Through Celery's command line and Flower's command, up to the server's start."""
    result = subprocess.run([sys.executable, "-c", STARTED_WITHOUT_SERVING], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-2:] == ["flower built, not served", "[]"]


@pytest.mark.slow
def test_a_real_flower_on_a_real_redis_asks_for_basic_auth_and_keeps_it_off_its_command_line():
    redis_port, flower_port = free_port(), free_port()
    with redis_server(redis_port):
        env = {
            **contract_env(),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__FLOWER_HOST": "127.0.0.1",
            "AIRFLOW__CELERY__FLOWER_PORT": str(flower_port),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_celery.flower"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{flower_port}/flower"
        try:
            wait_until(lambda: _status(f"{base}/healthcheck") == 200, 60, "Flower's health check")
            assert _status(f"{base}/api/workers") == 401
            assert _status(f"{base}/api/workers", auth=("admin", "wrong")) == 401
            assert _status(f"{base}/api/workers", auth=("admin", "flower-secret")) == 200
            broker = httpx.get(f"{base}/broker", auth=("admin", "flower-secret"), timeout=10)
            assert broker.status_code == 200 and ">default<" in broker.text  # no worker up: the default queue
            command_line = " ".join(psutil.Process(process.pid).cmdline())
            assert "flower-secret" not in command_line and "airflow_celery.flower" in command_line
        finally:
            stop_group(process)


def _status(url: str, auth: tuple[str, str] | None = None) -> int | None:
    try:
        return httpx.get(url, auth=auth, timeout=5).status_code
    except httpx.HTTPError:
        return None
