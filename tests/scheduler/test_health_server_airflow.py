"""The scheduler's health endpoint from a thread (airflow_celery/scheduler/health_server.py), through the pinned
Airflow 3.3.2's own `airflow scheduler` code: `_run_scheduler_job` runs as the command runs it, with the env
contract's Celery config module or without it, and only the scheduler's job is stood in for (`run_job`, which would
start the loop): inside it the probe reads who serves /health and what it answers for a fresh and a stale heartbeat,
then ends the job with SystemExit, as the scheduler's SIGTERM handler does.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from airflow_celery.cluster.env import SCHEDULER_CELERY_CONFIG
from airflow_celery.local.ports import free_ports
from tests.airflow_probe import run_probe

pytestmark = pytest.mark.airflow

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

port = int(sys.argv[1])
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
    raise SystemExit(1)  # as the scheduler's SIGTERM handler ends its job (`_exit_gracefully`)


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


def _run_scheduler_job(tmp_path: Path, config_module: str | None) -> dict:
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
    return run_probe(tmp_path, PROBE, str(port), **env)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config_module", "serving_function", "served_by_the_scheduler", "child_processes"),
    [
        (SCHEDULER_CELERY_CONFIG, "airflow_celery.scheduler.health_server", True, 0),
        (None, "airflow.cli.commands.scheduler_command", False, 1),
    ],
    ids=["contract-thread", "airflow-fork"],
)
def test_the_same_answers_from_a_thread_with_the_contracts_config_and_from_a_fork_without(
    tmp_path, config_module, serving_function, served_by_the_scheduler, child_processes
):
    """With the env contract's Celery config the scheduler answers Airflow's check itself and forks nothing; as
    Airflow ships it, a forked copy holds the port. With ours the job's end (SystemExit) frees the port and ends the
    thread; Airflow terminates its fork without waiting, so its port is not checked here."""
    seen = _run_scheduler_job(tmp_path, config_module)
    assert seen["health_check_function"] == serving_function
    assert (seen["fresh"], seen["stale"], seen["other_path"]) == (200, 503, 404)
    assert seen["served_by_the_scheduler"] is served_by_the_scheduler
    assert seen["child_processes"] == child_processes
    assert seen["exited"] is True
    if served_by_the_scheduler:
        assert seen["port_free_after_the_job"] is True
        assert "scheduler-health" not in seen["threads_after_the_job"]


def test_the_command_builds_its_executors_before_it_enters_the_health_check_it_looks_up_by_name():
    """What install() relies on, read from the pinned command: the SchedulerJobRunner (whose executors import the
    Celery config module) is built first, then `_serve_health_check` is called through the module's global name."""
    from airflow.cli.commands import scheduler_command

    source = inspect.getsource(scheduler_command._run_scheduler_job)
    built = source.index("job_runner = SchedulerJobRunner(")
    entered = source.index("_serve_health_check(enable_health_check)")
    assert built < entered
    assert "Process(target=serve_health_check)" in inspect.getsource(scheduler_command._serve_health_check)
