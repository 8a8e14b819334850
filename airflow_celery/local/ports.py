"""Is a TCP port on 127.0.0.1 free, and if not, who holds it."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Mapping
from pathlib import Path

import psutil

from airflow_celery.cluster.metrics import METRICS_PORT_KEY
from airflow_celery.local.errors import LocalError

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
"""Where Linux keeps the range it picks a port from by itself: for a client's connection, or a server bound to 0."""
DEFAULT_EPHEMERAL_LOW = 32768
LOWEST_PICK = 10000


def ephemeral_low() -> int:
    """The first port of the kernel's own picks (32768 by default on Linux)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 for both TCP and UDP right now (all held at once, so none repeats),
    for the test and bench clusters. They come from below the kernel's ephemeral range, which it never hands out by
    itself: a port picked here cannot be taken, before the cluster binds it, by any process's outgoing connection or
    by a server bound to port 0 (moto's, in the same test process, took a cluster's api-server port that way once on
    2026-12-07, when the picks were the kernel's). Only another pick can take it: the test clusters pick theirs
    under their start lock (tests/local/cluster_support.py, `local_up`)."""
    candidates = list(range(LOWEST_PICK, ephemeral_low()))
    random.shuffle(candidates)
    held: list[socket.socket] = []
    picked: list[int] = []
    try:
        for port in candidates:
            if len(picked) == count:
                break
            pair = [socket.socket(socket.AF_INET, socket.SOCK_STREAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
            held += pair
            try:
                for s in pair:
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            picked.append(port)
    finally:
        for s in held:
            s.close()
    if len(picked) < count:
        raise LocalError(f"only {len(picked)} of {count} free ports between {LOWEST_PICK} and {ephemeral_low() - 1}")
    return picked


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
