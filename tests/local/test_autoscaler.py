"""The local autoscaler: --workers MIN:MAX and the start/stop plan over supervisord's worker programs."""

from __future__ import annotations

import pytest

from airflow_celery.local.autoscaler import Plan, WorkerStatus, plan
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


NOW = 1_000_000.0


def infos(**states):
    return {name.replace("_", "-"): {"statename": state} for name, state in states.items()}


@pytest.mark.parametrize(
    ("states", "desired", "expected"),
    [
        (infos(worker_1="RUNNING", worker_2="STOPPED", worker_3="STOPPED"), 3, Plan(start=["worker-2", "worker-3"])),
        (infos(worker_1="RUNNING", worker_2="STOPPING", worker_3="STOPPED"), 2, Plan(start=["worker-3"])),
        (infos(worker_1="RUNNING", worker_2="STOPPED"), 1, Plan()),
        (infos(worker_10="STOPPED", worker_2="STOPPED", scheduler="RUNNING"), 1, Plan(start=["worker-2"])),
    ],
)
def test_scale_out_starts_the_lowest_stopped_programs(states, desired, expected):
    assert plan(states, desired) == expected


def test_scale_in_drains_the_least_busy_worker_instead_of_stopping_the_highest():
    """Before: the highest-numbered worker was stopped, busy or not (its tasks got SIGTERM at once)."""
    states = infos(worker_1="RUNNING", worker_2="RUNNING", worker_3="RUNNING")
    statuses = {"worker-1": WorkerStatus(holds=0, at=NOW), "worker-2": WorkerStatus(holds=2, at=NOW),
                "worker-3": WorkerStatus(holds=4, at=NOW)}  # fmt: skip
    assert plan(states, 2, statuses=statuses, now=NOW) == Plan(drain=["worker-1"])
    assert plan(states, 1, statuses=statuses, now=NOW) == Plan(drain=["worker-1", "worker-2"])


def test_a_draining_worker_is_stopped_only_once_it_says_release():
    states = infos(worker_1="RUNNING", worker_2="RUNNING")
    holding = {"worker-2": WorkerStatus(holds=1, at=NOW)}
    assert plan(states, 1, going={"worker-2"}, statuses=holding, now=NOW) == Plan()
    released = {"worker-2": WorkerStatus(holds=0, release=True, at=NOW)}
    assert plan(states, 1, going={"worker-2"}, statuses=released, now=NOW) == Plan(stop=["worker-2"])


def test_a_status_from_before_the_program_started_says_nothing():
    states = {"worker-1": {"statename": "RUNNING", "start": NOW}, "worker-2": {"statename": "RUNNING", "start": NOW}}
    stale = {"worker-2": WorkerStatus(holds=0, release=True, at=NOW - 60)}
    assert plan(states, 1, going={"worker-2"}, statuses=stale, now=NOW) == Plan()
    # silent for the whole drain cap: stopped anyway (a warm shutdown, then SIGKILL after stopwaitsecs)
    assert plan(states, 1, going={"worker-2"}, statuses=stale, now=NOW + 100, cap=100) == Plan(stop=["worker-2"])


def test_a_draining_worker_wanted_again_resumes_before_any_program_starts():
    states = infos(worker_1="RUNNING", worker_2="RUNNING", worker_3="STOPPED")
    assert plan(states, 2, going={"worker-2"}) == Plan(resume=["worker-2"])
    assert plan(states, 3, going={"worker-2"}) == Plan(start=["worker-3"], resume=["worker-2"])


def test_worker_programs_stop_their_main_process_only_and_know_their_drain_path(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    options = validate_up_options("1:2", 2, tmp_path / "state", dags)
    from airflow_celery.local.options import cluster_settings

    settings = cluster_settings(options, tmp_path / "home", "host")
    paths = StatePaths(options.state_dir)
    programs = {p.name: p for p in build_programs(settings, options.workers, paths, "/bin", tmp_path, False)}
    for name in ("worker-1", "worker-2"):
        assert programs[name].stopasgroup is False  # SIGTERM: Celery's warm shutdown; tasks are not signalled
        assert programs[name].env["AIRFLOW_CELERY_DRAIN_PATH"] == str(paths.run / "drain" / name)
    assert programs["scheduler"].stopasgroup is True
    assert "AIRFLOW_CELERY_DRAIN_PATH" not in programs["scheduler"].env


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
