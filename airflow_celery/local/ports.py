"""Is a TCP port on 127.0.0.1 free, and if not, who holds it."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from airflow_celery.cluster.metrics import METRICS_PORT_KEY
from airflow_celery.local.errors import LocalError

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Where Linux keeps the range it picks a port from by itself: for a client's connection, or a server bound to 0."""
DEFAULT_EPHEMERAL_RANGE = (32768, 60999)
LOWEST_PICK = 10000
HIGHEST_PORT = 65535
MIN_OUTSIDE = 1000
"""Fewer candidate ports than this outside the ephemeral range, and the picks come from all of 1024-65535."""


def ephemeral_range() -> tuple[int, int]:
    """The first and last port of the kernel's own picks (32768-60999 by default on Linux)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split()[:2])
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL_RANGE
    return low, high


def _candidates(span: int) -> list[int]:
    """First ports of `span` consecutive ports outside the kernel's ephemeral range (below it from LOWEST_PICK, and
    above it), shuffled; all of 1024-65535 when the range leaves too few outside it."""
    low, high = ephemeral_range()
    outside = [*range(LOWEST_PICK, low - span + 1), *range(high + 1, HIGHEST_PORT - span + 2)]
    if len(outside) < MIN_OUTSIDE:  # a range tuned to (nearly) every port: the kernel's own picks can collide anyway
        outside = list(range(1024, HIGHEST_PORT - span + 2))
    random.shuffle(outside)
    return outside


def _hold(first: int, span: int) -> list[socket.socket] | None:
    """Bind ports first .. first + span - 1 on loopback for TCP and UDP and return the sockets; None (and nothing
    left bound) when any of them is taken."""
    held: list[socket.socket] = []
    try:
        for port in range(first, first + span):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                held.append(socket.socket(socket.AF_INET, kind))
                held[-1].bind(("127.0.0.1", port))
    except OSError:
        for s in held:
            s.close()
        return None
    return held


def free_port_blocks(spans: Sequence[int]) -> list[int]:
    """For each span, the first of that many consecutive ports free on 127.0.0.1 for both TCP and UDP right now (all
    held at once, so no two blocks overlap), for the test and bench clusters. A block of 2 is for a second
    scheduler's health port, which `local up` puts right after the first's (options.py, `resolve_ports`).

    The ports come from outside the kernel's ephemeral range, which it never hands out by itself: a port picked
    here cannot be taken, before the cluster binds it, by any process's outgoing connection or by a server bound to
    port 0 (moto's, in the same test process, took a cluster's api-server port that way once on 2026-12-07, when the
    picks were the kernel's). Another pick can still take it: the test clusters pick theirs under their start lock
    (tests/local/cluster_support.py, `local_up`)."""
    held: list[socket.socket] = []
    firsts: dict[int, int] = {}
    try:
        for index in sorted(range(len(spans)), key=lambda i: -spans[i]):  # the longest blocks first
            span = spans[index]
            for first in _candidates(span):
                block = _hold(first, span)
                if block is not None:
                    held += block
                    firsts[index] = first
                    break
            else:
                raise LocalError(f"no {span} consecutive free ports on 127.0.0.1 outside {ephemeral_range()}")
    finally:
        for s in held:
            s.close()
    return [firsts[index] for index in range(len(spans))]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (free_port_blocks of 1)."""
    return free_port_blocks([1] * count)


def port_is_free(port: int, host: str = "127.0.0.1", udp: bool = False) -> bool:
    """True when we could bind `host:port` right now (SO_REUSEADDR, as the servers themselves bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_owner(port: int) -> str:
    """A description of the process listening on `port`, as far as we are allowed to see it."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return "another process"
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            if conn.pid is None:
                return "another process"
            try:
                process = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(process.cmdline())[:120] or process.name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return "another process"


def port_label(key: str) -> str:
    """`api-server.http` -> `api-server http`."""
    return key.replace(".", " ", 1)


def check_ports_free(ports: Mapping[str, int]) -> None:
    """One clear error for the first port in use, naming it and its owner, before anything starts."""
    for key, port in ports.items():
        if not port_is_free(port, udp=key == METRICS_PORT_KEY):
            raise LocalError(
                f"port {port} ({port_label(key)}) is already in use by {port_owner(port)}; stop that process or "
                f"choose another port with --port {key}=NUMBER"
            )
