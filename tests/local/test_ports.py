"""The free ports the test and bench clusters take (airflow_celery/local/ports.py)."""

from __future__ import annotations

import socket

import pytest

from airflow_celery.local import ports as ports_module
from airflow_celery.local.errors import LocalError
from airflow_celery.local.ports import free_ports, port_is_free


def test_free_ports_are_distinct_and_bindable_on_loopback_for_tcp_and_udp():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    assert all(1024 <= port <= 65535 and port_is_free(port) and port_is_free(port, udp=True) for port in ports)


def test_free_ports_are_below_the_kernels_own_picks_so_a_server_bound_to_port_0_cannot_take_one():
    low = ports_module.ephemeral_low()
    assert low == int(ports_module.EPHEMERAL_RANGE.read_text().split()[0])  # Linux: 32768 unless changed
    picked = set(free_ports(6))
    assert all(ports_module.LOWEST_PICK <= port < low for port in picked)
    servers = [socket.create_server(("127.0.0.1", 0)) for _ in range(50)]  # as moto's server binds
    try:
        assert not picked & {server.getsockname()[1] for server in servers}
    finally:
        for server in servers:
            server.close()


def test_a_port_in_use_is_never_picked(monkeypatch):
    monkeypatch.setattr(ports_module, "ephemeral_low", lambda: ports_module.LOWEST_PICK + 3)
    with socket.create_server(("127.0.0.1", ports_module.LOWEST_PICK + 1)):
        assert sorted(free_ports(2)) == [ports_module.LOWEST_PICK, ports_module.LOWEST_PICK + 2]


def test_too_few_free_ports_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(ports_module, "ephemeral_low", lambda: ports_module.LOWEST_PICK + 2)
    with pytest.raises(LocalError, match="only 2 of 3 free ports between 10000 and 10001"):
        free_ports(3)
