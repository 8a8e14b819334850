"""What airflow_celery/flower.py reproduces, read from the pinned Airflow and celery provider: for the env contract's
Flower environment, `airflow celery flower` (its own CLI parser and command, with only `app.start` recorded instead
of run) starts Flower with our options, the same broker TLS, and an app whose settings equal ours but for those only
workers and the result backend read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from celery import Celery

from airflow_celery import flower
from tests.airflow_probe import run_probe
from tests.test_flower import BROKER_URL, contract_env

pytestmark = pytest.mark.airflow

FLOWER_PACKAGE = Path(__import__("flower").__file__).parent
APP_SETTINGS_FLOWER_READS = (
    "broker_transport_options",
    "broker_use_ssl",
    "task_default_queue",
    "task_queues",
    "timezone",
)
"""Every `capp.conf.<setting>` in Flower's source (checked below)."""
ONLY_FOR_WORKERS_AND_RESULTS = {
    "result_backend",
    "database_engine_options",
    "task_acks_late",
    "task_track_started",
    "worker_concurrency",
    "worker_hijack_root_logger",
    "worker_prefetch_multiplier",
    "worker_redirect_stdouts",
}
"""The settings in which Airflow's app differs from ours, which leaves them at Celery's defaults: each read by a worker
(how it takes, acknowledges and reports a task) or by the result backend, and Flower is neither."""
TLS_BROKER_URL = "rediss://:broker-secret@redis.example:6379/0?ssl_cert_reqs=CERT_REQUIRED"
"""The broker URL an ElastiCache broker with TLS gets (cluster/secrets.py)."""

AIRFLOWS_FLOWER = """
import json
from unittest import mock

from airflow.cli import cli_parser
from airflow.providers.celery.executors import celery_executor

recorded = []
with mock.patch.object(celery_executor.app, "start", recorded.append):
    args = cli_parser.get_parser().parse_args(["celery", "flower"])
    args.func(args)
app = celery_executor.app
print(json.dumps({"options": recorded[0], "settings": dict(app.conf), "ssl": app.connection().ssl}, default=repr))
"""


def airflows_flower(env: dict[str, str], home: Path) -> dict:
    """What `airflow celery flower` starts Flower with for `env`: its options, its app's settings and broker TLS."""
    return run_probe(home, AIRFLOWS_FLOWER, timeout=120, **env)


def ours(env: dict[str, str]) -> dict:
    app = Celery(flower.APP_NAME, set_as_current=False)
    app.conf.update(flower.celery_config(env))
    settings = json.loads(json.dumps(dict(app.conf), default=repr))
    return {"options": flower.flower_argv(env), "settings": settings, "ssl": app.connection().ssl}


def test_flower_reads_no_other_setting_of_its_app():
    source = "\n".join(path.read_text() for path in FLOWER_PACKAGE.rglob("*.py"))
    assert set(re.findall(r"capp\.conf\.(\w+)", source)) == set(APP_SETTINGS_FLOWER_READS)


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", [BROKER_URL, TLS_BROKER_URL], ids=["redis", "rediss"])
def test_airflows_flower_command_starts_flower_as_ours_does(tmp_path, broker_url):
    env = {**contract_env(), "AIRFLOW__CELERY__BROKER_URL": broker_url}
    airflows, mine = airflows_flower(env, tmp_path), ours(env)
    # Airflow also passes the broker URL as a bare argument: Flower's command drops every argument that is not one
    # of its options (flower/command.py, apply_options and is_flower_option), so the broker is the app's.
    assert airflows["options"] == [mine["options"][0], broker_url, *mine["options"][1:]]
    assert airflows["ssl"] == mine["ssl"]
    differing = {key for key in airflows["settings"].keys() | mine["settings"].keys()
                 if airflows["settings"].get(key) != mine["settings"].get(key)}  # fmt: skip
    assert differing == ONLY_FOR_WORKERS_AND_RESULTS, {
        key: (airflows["settings"].get(key), mine["settings"].get(key)) for key in differing
    }
