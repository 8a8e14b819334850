"""When health_server.install() replaces the scheduler command's health server, and when it leaves it alone (the
pinned Airflow's own command: test_health_server_airflow.py)."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from types import SimpleNamespace

from airflow_celery.scheduler import health_server
from airflow_celery.scheduler.health_server import SCHEDULER_COMMAND, install, serve_in_a_thread


@contextmanager
def airflows_own(enable_health_check: bool = False):
    yield


def test_outside_the_scheduler_command_nothing_is_replaced(monkeypatch):
    monkeypatch.delitem(sys.modules, SCHEDULER_COMMAND, raising=False)
    assert install() is False
    assert SCHEDULER_COMMAND not in sys.modules


def test_in_the_scheduler_command_it_replaces_the_forked_server_once(monkeypatch):
    command = SimpleNamespace(_serve_health_check=airflows_own)
    monkeypatch.setitem(sys.modules, SCHEDULER_COMMAND, command)
    assert install() is True
    assert command._serve_health_check is serve_in_a_thread
    assert install() is False
    assert command._serve_health_check is serve_in_a_thread


def test_a_command_without_the_function_is_left_as_it_is_with_a_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, SCHEDULER_COMMAND, SimpleNamespace())
    with caplog.at_level(logging.WARNING, logger=health_server.log.name):
        assert install() is False
    assert "_serve_health_check is gone" in caplog.text


def test_with_the_check_off_it_serves_nothing():
    with serve_in_a_thread(False):
        pass
