"""The scheduler's health endpoint from a thread (airflow_celery/scheduler/health_server.py), through the pinned
Airflow 3.3.2's own `airflow scheduler` code: `_run_scheduler_job` runs as the command runs it, with the env
contract's Celery config module or without it, and only the scheduler's job is stood in for (`run_job`, which would
start the loop): inside it the probe reads who serves /health and what it answers for a fresh and a stale heartbeat.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from airflow_celery.cluster.env import SCHEDULER_CELERY_CONFIG
from airflow_celery.local.ports import free_ports
from tests.airflow_probe import run_probe

pytestmark = pytest.mark.airflow

AIRFLOW = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])

PROBE = """
import json, multiprocessing, os, sys, time, urllib.error, urllib.request
from argparse import Namespace
from datetime import timedelta

import psutil
from airflow import settings
from airflow._shared.timezones import timezone
from airflow.cli.commands import scheduler_command
from airflow.jobs.job import Job
from airflow.models import import_all_models
import_all_models()
from airflow.models.base import Base
from airflow.utils.session import create_session

port, mode = int(sys.argv[1]), sys.argv[2]
Base.metadata.create_all(settings.engine)
seen = {}


def get(path):
    deadline = time.monotonic() + 60  # Airflow's forked server binds its port a moment after the fork
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)


def heartbeat(job, age):
    # The heartbeat of the scheduler's own job row (its loop would write it), `age` old.
    with create_session() as session:
        row = session.merge(job) if "job_id" not in seen else session.get(Job, seen["job_id"])
        row.state = "running"
        row.latest_heartbeat = timezone.utcnow() - age
        session.flush()
        seen["job_id"] = row.id


def stand_in_for_the_loop(job, execute_callable):
    heartbeat(job, timedelta(0))
    seen["fresh"] = get("/health")
    seen["other_path"] = get("/metrics")
    heartbeat(job, timedelta(hours=1))
    seen["stale"] = get("/health")
    listeners = [c.laddr.port for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    seen["served_by_the_scheduler"] = port in listeners
    seen["child_processes"] = len(multiprocessing.active_children())
    if mode == "exit":
        raise SystemExit(1)  # as the scheduler's SIGTERM handler ends its job


def port_is_free():
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a restarted server binds: no listener left
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


scheduler_command.run_job = stand_in_for_the_loop
try:
    scheduler_command._run_scheduler_job(Namespace(num_runs=1, only_idle=False, skip_serve_logs=True))
except SystemExit:
    seen["exited"] = True
seen["health_check_function"] = scheduler_command._serve_health_check.__module__
seen["port_free_after_the_job"] = port_is_free()
seen["threads_after_the_job"] = sorted(t.name for t in __import__("threading").enumerate())
print(json.dumps(seen))
"""


def _run_scheduler_job(tmp_path: Path, config_module: str | None, mode: str = "return") -> dict:
    (port,) = free_ports(1)
    env = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CELERY__BROKER_URL": "memory://",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{tmp_path / 'results.db'}",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(port),
    }
    if config_module:
        env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = config_module
    return run_probe(tmp_path, PROBE, str(port), mode, **env)


@pytest.mark.slow
def test_with_the_contracts_config_the_scheduler_serves_airflows_check_itself_and_forks_nothing(tmp_path):
    seen = _run_scheduler_job(tmp_path, SCHEDULER_CELERY_CONFIG)
    assert seen["health_check_function"] == "airflow_celery.scheduler.health_server"
    assert (seen["fresh"], seen["stale"], seen["other_path"]) == (200, 503, 404)
    assert seen["served_by_the_scheduler"] is True
    assert seen["child_processes"] == 0
    assert seen["port_free_after_the_job"] is True
    assert "scheduler-health" not in seen["threads_after_the_job"]


@pytest.mark.slow
def test_when_the_scheduler_exits_its_job_the_thread_stops_and_the_port_is_freed(tmp_path):
    """SIGTERM ends the scheduler's job with SystemExit (`_exit_gracefully`): the block's exit stops the server."""
    seen = _run_scheduler_job(tmp_path, SCHEDULER_CELERY_CONFIG, mode="exit")
    assert seen["exited"] is True
    assert seen["fresh"] == 200
    assert seen["port_free_after_the_job"] is True
    assert "scheduler-health" not in seen["threads_after_the_job"]


@pytest.mark.slow
def test_as_airflow_ships_it_the_same_check_is_answered_by_a_forked_copy_of_the_scheduler(tmp_path):
    """The baseline the module replaces: the same answers, from a child process holding the port."""
    seen = _run_scheduler_job(tmp_path, None)
    assert seen["health_check_function"] == "airflow.cli.commands.scheduler_command"
    assert (seen["fresh"], seen["stale"], seen["other_path"]) == (200, 503, 404)
    assert seen["served_by_the_scheduler"] is False
    assert seen["child_processes"] == 1


def test_the_command_builds_its_executors_before_it_enters_the_health_check_it_looks_up_by_name():
    """What install() relies on, read from the pinned command: the SchedulerJobRunner (whose executors import the
    Celery config module) is built first, then `_serve_health_check` is called through the module's global name."""
    from airflow.cli.commands import scheduler_command

    source = inspect.getsource(scheduler_command._run_scheduler_job)
    built = source.index("job_runner = SchedulerJobRunner(")
    entered = source.index("_serve_health_check(enable_health_check)")
    assert built < entered
    assert "Process(target=serve_health_check)" in inspect.getsource(scheduler_command._serve_health_check)
