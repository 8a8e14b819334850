"""The local autoscaler: --workers MIN:MAX and the start/stop plan over supervisord's worker programs."""

from __future__ import annotations

import pytest

from airflow_celery.local.autoscaler import plan
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import parse_workers, validate_up_options
from airflow_celery.local.programs import build_programs
from airflow_celery.local.state import StatePaths


@pytest.mark.parametrize(("value", "expected"), [("2", (None, 2)), ("1:3", (1, 3)), ("0:2", (0, 2)), (4, (None, 4))])
def test_workers_is_a_count_or_min_max(value, expected):
    assert parse_workers(value) == expected


@pytest.mark.parametrize("value", ["", "two", "3:1", "1:x", "9:9"])
def test_bad_workers_is_one_clear_error(value):
    with pytest.raises(LocalError, match="--workers"):
        parse_workers(value)


def infos(**states):
    return {name.replace("_", "-"): {"statename": state} for name, state in states.items()}


@pytest.mark.parametrize(
    ("states", "desired", "expected"),
    [
        (infos(worker_1="RUNNING", worker_2="STOPPED", worker_3="STOPPED"), 3, (["worker-2", "worker-3"], [])),
        (infos(worker_1="RUNNING", worker_2="RUNNING", worker_3="RUNNING"), 1, ([], ["worker-3", "worker-2"])),
        (infos(worker_1="RUNNING", worker_2="STOPPING", worker_3="STOPPED"), 2, (["worker-3"], [])),
        (infos(worker_1="RUNNING", worker_2="STOPPED"), 1, ([], [])),
        (infos(worker_10="STOPPED", worker_2="STOPPED", scheduler="RUNNING"), 1, (["worker-2"], [])),
    ],
)
def test_the_plan_starts_the_lowest_idle_and_stops_the_highest_running(states, desired, expected):
    assert plan(states, desired) == expected


def test_min_max_defines_max_workers_and_an_autoscaler_program(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    options = validate_up_options("1:3", 2, tmp_path / "state", dags, scale_in_cooldown=20)
    assert (options.min_workers, options.workers, options.initial_workers) == (1, 3, 1)
    from airflow_celery.local.options import cluster_settings

    settings = cluster_settings(options, tmp_path / "home", "host")
    assert (settings.worker_min_count, settings.worker_max_count, settings.scale_in_cooldown) == (1, 3, 20)
    assert settings.parallelism == 6  # 3 workers x 2 slots
    programs = build_programs(settings, options.workers, StatePaths(options.state_dir), "/bin", tmp_path, False)
    names = [p.name for p in programs]
    assert [n for n in names if n.startswith("worker-")] == ["worker-1", "worker-2", "worker-3"]
    (autoscaler,) = [p for p in programs if p.name == "autoscaler"]
    assert autoscaler.argv[-3:] == ("airflow_celery.autoscaler", "supervisor", str(options.state_dir))
    assert autoscaler.env["AIRFLOW_CELERY_WORKERS_MIN"] == "1" and autoscaler.env["AIRFLOW_CELERY_WORKERS_MAX"] == "3"
    assert autoscaler.secret_vars == {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "database-url"}


def test_a_fixed_count_has_no_autoscaler(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    options = validate_up_options("2", 2, tmp_path / "state", dags)
    assert not options.autoscaling and options.initial_workers == 2
    from airflow_celery.local.options import cluster_settings

    settings = cluster_settings(options, tmp_path / "home", "host")
    programs = build_programs(settings, options.workers, StatePaths(options.state_dir), "/bin", tmp_path, False)
    assert "autoscaler" not in [p.name for p in programs]
