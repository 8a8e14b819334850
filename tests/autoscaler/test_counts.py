"""What the autoscaler counts (autoscaler/counts.py), on a real SQL engine: the workers' queue, and executor
callbacks bound for it. SQLite with the columns the queries read (their names are checked against the pinned Airflow
in test_airflow_source.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from airflow_celery.autoscaler.counts import callback_queue, database_counter, load_from_rows
from airflow_celery.cluster.scaling import Load


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'airflow.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE task_instance (id TEXT, state TEXT, queue TEXT)"))
        connection.execute(text("CREATE TABLE callback (id TEXT, type TEXT, state TEXT, data TEXT)"))
    return url, engine


def insert(engine, table: str, rows: list[dict]) -> None:
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    with engine.begin() as connection:
        connection.execute(text(sql), rows)


def serialized(data: dict) -> str:
    """As Airflow's ExtendedJSON stores a dict (BaseSerialization)."""
    return json.dumps({"__type": "dict", "__var": data})


def test_only_tasks_on_the_workers_queue_count(database):
    url, engine = database
    insert(engine, "task_instance", [
        {"id": "1", "state": "queued", "queue": "default"},
        {"id": "2", "state": "running", "queue": "default"},
        {"id": "3", "state": "queued", "queue": "gpu"},  # waits for workers that are not ours
        {"id": "4", "state": "success", "queue": "default"},
    ])  # fmt: skip
    assert database_counter(url)() == Load(queued=1, running=1)
    assert database_counter(url, "gpu")() == Load(queued=1, running=0)


def test_executor_callbacks_bound_for_the_workers_queue_count(database):
    url, engine = database
    insert(engine, "callback", [
        {"id": "a", "type": "executor", "state": "pending", "data": serialized({"path": "m.f", "dag_run_id": 1})},
        {"id": "b", "type": "executor", "state": "queued", "data": serialized({"path": "m.f", "dag_run_id": 1})},
        {"id": "c", "type": "executor", "state": "running", "data": serialized({"path": "m.f", "dag_run_id": 1})},
        {"id": "d", "type": "executor", "state": "queued", "data": serialized({"path": "m.f", "queue": "gpu"})},
        {"id": "e", "type": "executor", "state": "success", "data": serialized({"path": "m.f"})},
        {"id": "f", "type": "triggerer", "state": "queued", "data": serialized({"path": "m.f"})},
    ])  # fmt: skip
    assert database_counter(url)() == Load(queued=2, running=1)


def test_with_min_zero_a_lone_callback_asks_for_a_worker():
    from airflow_celery.cluster.scaling import ScalingRule, workers_for

    load = load_from_rows([], [("queued", serialized({"path": "m.f"}))], "default")
    assert workers_for(load, ScalingRule(min_workers=0, max_workers=3, concurrency=4)) == 1


@pytest.mark.parametrize(
    ("data", "queue"),
    [
        ({"__type": "dict", "__var": {"queue": "gpu"}}, "gpu"),
        ({"__type": "dict", "__var": {"path": "x"}}, "default"),
        ({"queue": "gpu"}, "gpu"),
        ("not json", "default"),
        (None, "default"),
    ],
)
def test_a_callbacks_queue_is_read_as_the_celery_executor_reads_it(data, queue):
    assert callback_queue(data, "default") == queue
