"""What airflow_celery/flower.py reproduces, read from the pinned Airflow and celery provider: for the env contract's
Flower environment, `airflow celery flower` (its own CLI parser and command, with only `app.start` recorded instead
of run) starts Flower with our options and an app whose values for every setting Flower reads equal ours."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from celery import Celery

from airflow_celery import flower
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
"""Every `capp.conf.<setting>` in Flower's source (checked below), beside the broker and the event serializers."""
COMPARED = ("broker_url", "accept_content", "event_serializer", *APP_SETTINGS_FLOWER_READS)

AIRFLOWS_FLOWER = """
import json
from unittest import mock

from airflow.cli import cli_parser
from airflow.providers.celery.executors import celery_executor

recorded = []
with mock.patch.object(celery_executor.app, "start", recorded.append):
    args = cli_parser.get_parser().parse_args(["celery", "flower"])
    args.func(args)
settings = {{key: celery_executor.app.conf.get(key) for key in {keys!r}}}
print(json.dumps({{"options": recorded[0], "settings": settings}}, default=str))
"""


def test_flower_reads_no_other_setting_of_its_app():
    source = "\n".join(path.read_text() for path in FLOWER_PACKAGE.rglob("*.py"))
    assert set(re.findall(r"capp\.conf\.(\w+)", source)) == set(APP_SETTINGS_FLOWER_READS)


@pytest.mark.slow
def test_airflows_flower_command_starts_flower_as_ours_does(tmp_path):
    env = contract_env()
    code = textwrap.dedent(AIRFLOWS_FLOWER.format(keys=COMPARED))
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    airflows = json.loads(result.stdout.strip().splitlines()[-1])

    ours = flower.flower_argv(env)
    # Airflow also passes the broker URL as a bare argument, which Flower hands to tornado's option parser, where a
    # bare argument ends the options: the broker is the app's.
    assert airflows["options"] == [ours[0], BROKER_URL, *ours[1:]]
    app = Celery(flower.APP_NAME, set_as_current=False)
    app.conf.update(flower.celery_config(env))
    assert {key: json.loads(json.dumps(app.conf.get(key), default=str)) for key in COMPARED} == airflows["settings"]
