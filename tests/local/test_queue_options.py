"""`local up --queue NAME=MIN:MAX[:CONCURRENCY]`: parsing, programs, the autoscaler's lanes and its sinks."""

from __future__ import annotations

import pytest

from airflow_celery.autoscaler.__main__ import lanes_from_env
from airflow_celery.cluster.queues import QueueScaling
from airflow_celery.local.autoscaler import plan, worker_programs
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import cluster_settings, local_capacity, parse_queue, validate_up_options
from airflow_celery.local.programs import build_programs
from airflow_celery.local.state import StatePaths, load_options, save_options


@pytest.mark.parametrize(
    ("value", "expected"),
    [("heavy=0:2", QueueScaling("heavy", 0, 2, 4)), ("gpu-1=1:3:2", QueueScaling("gpu-1", 1, 3, 2))],
)
def test_a_queue_is_name_min_max_and_optional_concurrency(value, expected):
    assert parse_queue(value, concurrency=4) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("heavy", "NAME=MIN:MAX"),
        ("heavy=2", "NAME=MIN:MAX"),
        ("heavy=a:b", "NAME=MIN:MAX"),
        ("default=0:2", "--workers and --concurrency"),
        ("Heavy=0:2", "lowercase"),
        ("heavy=3:2", "MIN (3) must not be above MAX (2)"),
        ("heavy=0:9", "--queue heavy MAX=9 is out of range"),
        ("heavy=0:2:0", "--queue heavy CONCURRENCY=0 is out of range"),
    ],
)
def test_a_bad_queue_is_one_clear_error(value, says):
    with pytest.raises(LocalError, match=None) as raised:
        parse_queue(value, concurrency=4)
    assert says in str(raised.value)


def test_a_queue_given_twice_is_refused(tmp_path):
    with pytest.raises(LocalError, match="given twice"):
        validate_up_options("2", 2, tmp_path / "s", tmp_path, queues=["a=0:1", "a=1:2"])


@pytest.fixture
def queued(tmp_path):
    options = validate_up_options("1:2", 2, tmp_path / "state", tmp_path, queues=["heavy=0:2:1", "fixed=1:1"])
    settings = cluster_settings(options, tmp_path / "home", "host")
    programs = build_programs(settings, options.workers, StatePaths(options.state_dir), "/bin", tmp_path, False)
    return options, settings, {p.name: p for p in programs}


def test_each_queue_gets_its_own_worker_programs_consuming_it(queued):
    _, _, programs = queued
    workers = sorted(name for name in programs if name.startswith("worker-"))
    assert workers == ["worker-1", "worker-2", "worker-fixed-1", "worker-heavy-1", "worker-heavy-2"]
    heavy = programs["worker-heavy-2"].env
    assert heavy["AIRFLOW_CELERY_WORKER_QUEUE"] == "heavy"
    assert heavy["AIRFLOW_CELERY_NODE_NAME"] == "worker-heavy-2@host"
    assert heavy["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "1"
    assert heavy["AIRFLOW_CELERY_DRAIN_PATH"].endswith("/drain/worker-heavy-2")
    assert "AIRFLOW_CELERY_WORKER_QUEUE" not in programs["worker-1"].env


def test_parallelism_sums_the_queues_and_the_autoscaler_gets_every_scaling_lane(queued, tmp_path):
    options, settings, programs = queued
    assert settings.parallelism == 2 * 2 + 2 * 1 + 1 * 2
    assert local_capacity(options).extra_queues
    env = {**programs["autoscaler"].env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/x.db"}
    lanes = lanes_from_env(env, lambda queue: queue)
    assert [(lane.queue, lane.sink, lane.scaler.rule.max_workers) for lane in lanes] == [
        ("default", None, 2),
        ("heavy", "heavy", 2),
    ]


def test_the_queues_survive_the_state_file(queued):
    options, _, _ = queued
    paths = StatePaths(options.state_dir)
    paths.root.mkdir(parents=True)
    save_options(paths, options, "host")
    assert load_options(paths)[0].queues == options.queues


def test_the_local_sink_plans_one_queues_programs_only():
    infos = {name: {"statename": "STOPPED"} for name in ("worker-1", "worker-2", "worker-heavy-1", "worker-heavy-2")}
    assert worker_programs(infos) == ["worker-1", "worker-2"]
    assert worker_programs(infos, "heavy") == ["worker-heavy-1", "worker-heavy-2"]
    assert plan(infos, 1, queue="heavy").start == ["worker-heavy-1"]
    assert plan(infos, 1).start == ["worker-1"]


def test_supervisord_carries_every_queue_programs_environment(queued):
    from airflow_celery.local.supervisor_conf import render_supervisord_conf

    options, _, programs = queued
    conf = render_supervisord_conf(list(programs.values()), StatePaths(options.state_dir))
    assert "[program:worker-heavy-2]" in conf
    assert 'AIRFLOW_CELERY_QUEUES="heavy=0:2:1"' in conf
