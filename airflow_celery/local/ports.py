"""Is a TCP port on 127.0.0.1 free, and if not, who holds it."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

import psutil

from airflow_celery.cluster.metrics import METRICS_PORT_KEY
from airflow_celery.local.errors import LocalError


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 right now (the kernel's picks, all held at once so none
    repeats): for the test and bench clusters, which must not collide with a cluster already running."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


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
