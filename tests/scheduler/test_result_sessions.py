"""airflow_celery/scheduler/result_sessions.py on Celery's real database result backend (SQLite files, no Airflow):
reads share one engine and one connection, the engine options apply, a forked child gets pools of its own (the
scheduler forks its health-check server, and a ProcessPoolExecutor to send many tasks at once when `[celery]
sync_parallelism` is above 1: celery_executor.py, `_send_workloads_to_celery`)."""

from __future__ import annotations

import os
import threading

import pytest
from celery import Celery
from celery.backends import database
from sqlalchemy import event
from sqlalchemy.pool import Pool

from airflow_celery.scheduler import result_sessions


@pytest.fixture
def connects():
    """Every new DBAPI connection any pool of this process opens, counted."""
    opened: list[object] = []

    def count(dbapi_connection, record):
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", count)
    yield opened
    event.remove(Pool, "connect", count)


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(database, "SessionManager", database.SessionManager)  # put back after the test
    monkeypatch.setattr(result_sessions.PooledSessionManager, "engines", {})  # this test's own process cache
    assert result_sessions.install() is True
    assert result_sessions.install() is False  # once


def backend(tmp_path, **engine_options):
    app = Celery("results-test", backend=f"db+sqlite:///{tmp_path / 'results.db'}", set_as_current=False)
    app.conf.database_engine_options = engine_options
    return app.backend


def read_three_times(result_backend) -> None:
    for _ in range(3):
        session = result_backend.ResultSession()
        try:
            session.query(database.Task).all()
        finally:
            session.close()


def test_celerys_own_manager_opens_a_connection_for_every_read(tmp_path, connects):
    result_backend = backend(tmp_path)  # Celery creates its tables here, over an engine of its own
    connects.clear()
    read_three_times(result_backend)
    assert len(connects) == 3


def test_pooled_reads_share_one_engine_and_one_connection_with_the_configured_pool(tmp_path, connects, installed):
    result_backend = backend(tmp_path, pool_size=1, max_overflow=0)  # its tables created over the kept engine
    assert isinstance(result_backend.session_manager, result_sessions.PooledSessionManager)
    read_three_times(result_backend)
    assert len(connects) == 1
    (engine,) = result_backend.session_manager._engines.values()
    assert (engine.pool.size(), engine.pool._max_overflow) == (1, 0)


def test_every_app_and_thread_of_the_process_shares_the_one_connection(tmp_path, connects, installed):
    """The scheduler's executor app reads the states, the app it sends with reads adopted tasks' results, and Celery
    gives each thread its own backend: one engine, one connection for all of them."""
    executors, senders = backend(tmp_path), backend(tmp_path)
    assert executors is not senders and executors.session_manager is not senders.session_manager
    read_three_times(executors)
    read_three_times(senders)
    thread = threading.Thread(target=read_three_times, args=(backend(tmp_path),))
    thread.start()
    thread.join()
    assert len(connects) == 1
    assert len(result_sessions.PooledSessionManager.engines) == 1


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents(tmp_path, connects, installed):
    result_backend = backend(tmp_path)
    read_three_times(result_backend)
    (engine,) = result_backend.session_manager._engines.values()
    parents_pool = engine.pool
    closed: list[object] = []

    def count_close(dbapi_connection, record):
        closed.append(dbapi_connection)

    event.listen(Pool, "close", count_close)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: is its pool new, did it close the parent's connection, did it open its own
        try:
            new_pool = engine.pool is not parents_pool
            closed_at_fork, before = len(closed), len(connects)
            read_three_times(result_backend)
            os.write(write_end, f"{int(new_pool)}{closed_at_fork}{len(connects) - before}".encode())
        finally:
            os._exit(0)
    event.remove(Pool, "close", count_close)  # the parent's: the child has exited through os._exit above
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    reported = os.read(read_end, 16).decode()
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0 and reported == "101"  # new pool, nothing closed, one opened
    assert engine.pool is parents_pool  # the parent's pool and its connection are untouched
    read_three_times(result_backend)
    assert len(connects) == 1
