"""The free ports the test and bench clusters take (airflow_celery/local/ports.py)."""

from __future__ import annotations

import socket

import pytest

from airflow_celery.local import ports as ports_module
from airflow_celery.local.errors import LocalError
from airflow_celery.local.ports import free_port_blocks, free_ports, port_is_free


def test_free_ports_are_distinct_and_bindable_on_loopback_for_tcp_and_udp():
    ports = free_ports(6)
    assert len(set(ports)) == 6
    assert all(1024 <= port <= 65535 and port_is_free(port) and port_is_free(port, udp=True) for port in ports)


def test_free_ports_are_outside_the_kernels_own_picks_so_a_server_bound_to_port_0_cannot_take_one():
    """On Linux, the machine local mode runs on (the Makefile's "fresh Linux machine"): the range is read from /proc."""
    low, high = ports_module.ephemeral_range()
    assert (low, high) == tuple(int(part) for part in ports_module.EPHEMERAL_RANGE.read_text().split())
    picked = set(free_ports(6))
    assert all(ports_module.LOWEST_PICK <= port < low or high < port <= 65535 for port in picked)
    servers = [socket.create_server(("127.0.0.1", 0)) for _ in range(50)]  # as moto's server binds
    try:
        assert not picked & {server.getsockname()[1] for server in servers}
    finally:
        for server in servers:
            server.close()


def _range(monkeypatch, low: int, high: int, min_outside: int = 0) -> None:
    monkeypatch.setattr(ports_module, "ephemeral_range", lambda: (low, high))
    monkeypatch.setattr(ports_module, "MIN_OUTSIDE", min_outside)


def test_picks_come_from_below_and_above_the_range_and_a_port_in_use_is_never_picked(monkeypatch):
    first = ports_module.LOWEST_PICK
    _range(monkeypatch, first + 2, 65533)  # free outside it: first, first + 1, 65534, 65535
    with socket.create_server(("127.0.0.1", first + 1)):
        assert sorted(free_ports(3)) == [first, 65534, 65535]


def test_a_block_keeps_its_consecutive_ports_free_and_apart_from_the_others(monkeypatch):
    first = ports_module.LOWEST_PICK
    _range(monkeypatch, first + 5, 65535)  # outside it: first .. first + 4
    with socket.create_server(("127.0.0.1", first + 2)):
        single, block = free_port_blocks([1, 2])  # the block is picked first, whatever the order asked
    assert block in (first, first + 3)  # the two pairs of consecutive free ports
    assert single in {first, first + 1, first + 3, first + 4} - {block, block + 1}


def test_a_range_covering_nearly_every_port_falls_back_to_all_ports(monkeypatch):
    _range(monkeypatch, 1024, 65000, min_outside=1000)  # 535 ports above it: too few
    assert all(1024 <= port <= 65535 for port in free_ports(3))


def test_no_free_block_is_one_clear_error(monkeypatch):
    first = ports_module.LOWEST_PICK
    monkeypatch.setattr(ports_module, "_candidates", lambda span: [first])
    with socket.create_server(("127.0.0.1", first + 1)), pytest.raises(LocalError, match="no 2 consecutive free ports"):
        free_port_blocks([2])
