"""The scheduler's health server thread (airflow_celery/scheduler/health_server.py) with a stand-in handler: how it
starts, stops, survives a silent client and a fork; and when install() replaces the scheduler command's forked server
(the pinned Airflow's own command and handler: test_health_server_airflow.py)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace

import httpx
import pytest

from airflow_celery.local.ports import free_ports, port_is_free
from airflow_celery.scheduler import health_server
from airflow_celery.scheduler.health_server import (
    SCHEDULER_COMMAND,
    THREAD_NAME,
    install,
    quiet,
    serve_in_a_thread,
    serving,
)

released = threading.Event()


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            released.wait(30)
        self.send_response(200)
        self.end_headers()


def health_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name == THREAD_NAME]


@pytest.fixture
def port() -> int:
    return free_ports(1)[0]


def test_it_serves_from_a_thread_of_this_process_while_the_block_runs_and_frees_the_port_after(port):
    with serving("127.0.0.1", port, quiet(Healthy)):
        assert health_threads() == [THREAD_NAME]
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    assert health_threads() == []
    assert port_is_free(port)


def test_a_port_already_taken_stops_the_start_with_the_error(port):
    taken = socket.create_server(("127.0.0.1", port))
    with taken, pytest.raises(OSError, match="in use"), serving("127.0.0.1", port, quiet(Healthy)):
        pass
    assert health_threads() == []


def test_an_exit_of_the_block_by_systemexit_stops_it_too(port):
    with pytest.raises(SystemExit), serving("127.0.0.1", port, quiet(Healthy)):
        raise SystemExit(1)
    assert health_threads() == []
    assert port_is_free(port)


def test_a_client_that_sends_nothing_holds_the_server_only_until_its_socket_times_out(port, monkeypatch):
    monkeypatch.setattr(health_server, "REQUEST_TIMEOUT", 0.5)
    with serving("127.0.0.1", port, quiet(Healthy)), socket.create_connection(("127.0.0.1", port)):
        started = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 5


def test_the_exit_waits_for_a_request_in_flight_at_most_the_shutdown_wait(port, monkeypatch):
    monkeypatch.setattr(health_server, "SHUTDOWN_WAIT", 0.5)
    released.clear()
    stuck = threading.Thread(target=lambda: httpx.get(f"http://127.0.0.1:{port}/slow", timeout=30), daemon=True)
    try:
        with serving("127.0.0.1", port, quiet(Healthy)):
            stuck.start()
            time.sleep(0.3)  # the request is in the handler, waiting
            leaving = time.monotonic()
        assert time.monotonic() - leaving < 3
        assert port_is_free(port)
    finally:
        released.set()
        stuck.join(10)


def test_a_child_forked_while_it_serves_closes_its_copy_of_the_port_and_the_parent_still_answers(port):
    with serving("127.0.0.1", port, quiet(Healthy)) as server:
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe
            os.write(write, b"closed" if server.socket.fileno() == -1 else b"open")
            os._exit(0)
        os.close(write)
        os.waitpid(child, 0)
        assert os.read(read, 16) == b"closed"
        os.close(read)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200


def test_access_lines_go_to_logging_at_debug_and_not_to_stderr(port, capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger=health_server.log.name), serving("127.0.0.1", port, quiet(Healthy)):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        time.sleep(0.1)
    assert '"GET /health HTTP/1.1" 200' in caplog.text
    assert "GET /health" not in capfd.readouterr().err


def test_with_the_check_off_it_serves_nothing():
    with serve_in_a_thread(False):
        assert health_threads() == []


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
