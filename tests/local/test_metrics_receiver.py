"""The local StatsD receiver, fed by the statsd client Airflow itself uses (statsd.StatsClient)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import statsd

from airflow_celery.local.metrics_receiver import parse_line, read_metrics, serve, summary


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_parse_plain_statsd_lines():
    assert parse_line("airflow.scheduler_heartbeat:1|c") == ("airflow.scheduler_heartbeat", 1.0, "counter", 1.0, False)
    assert parse_line("airflow.task.duration:12.5|ms|@0.5")[1:4] == (12.5, "timing", 0.5)
    assert parse_line("airflow.pool.open_slots.default_pool:-3|g")[4] is True
    assert parse_line("not statsd") is None and parse_line("x:abc|c") is None


@pytest.mark.slow
def test_what_airflows_client_sends_arrives_and_sums_up(tmp_path):
    port, out = _free_udp_port(), tmp_path / "metrics.json"
    listener = threading.Thread(target=serve, args=(("127.0.0.1", port), out), kwargs={"stop_after": 3})
    listener.start()
    time.sleep(0.3)
    client = statsd.StatsClient("127.0.0.1", port, prefix="airflow")
    for _ in range(3):
        client.incr("scheduler_heartbeat")
    client.gauge("executor.open_slots", 16)
    client.gauge("pool.queued_slots.default_pool", 2)
    client.gauge("pool.running_slots.default_pool", 5)
    client.timing("task.duration", 1200)
    listener.join(timeout=10)
    metrics = read_metrics(out)
    assert metrics["airflow.scheduler_heartbeat"]["value"] == 3
    assert metrics["airflow.executor.open_slots"]["value"] == 16
    assert metrics["airflow.task.duration"]["type"] == "timing"
    line = summary(metrics, metrics["airflow.scheduler_heartbeat"]["last"] + 4)
    assert line == "Airflow metrics: queued 2, running 5, open slots 16, scheduler heartbeat 4 s ago"
