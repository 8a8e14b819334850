"""The free ports the test and bench clusters take (airflow_celery/local/ports.py)."""

from __future__ import annotations

from airflow_celery.local.ports import free_ports, port_is_free


def test_free_ports_are_distinct_and_bindable_on_loopback():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    assert all(1024 <= port <= 65535 and port_is_free(port) for port in ports)
