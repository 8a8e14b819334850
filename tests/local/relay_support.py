"""The local PostgreSQL's TLS relay (airflow_celery/local/pg_tls.py) run for real in front of a stand-in server."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from airflow_celery.local.tls import ensure_server_tls


class _UpstreamServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128
    """socketserver's backlog of 5 makes a burst of connections fail on a unix socket (asyncio reads EAGAIN from a
    full backlog as "in progress", and the socket's first read then fails with EINVAL); PostgreSQL's is larger."""


@contextlib.contextmanager
def running_relay(pg_conf_dir: Path, upstream: Path, handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    """`python -m airflow_celery.local.pg_tls` on a free port with the certificate made into `pg_conf_dir`, in front
    of `handler` serving the unix socket `upstream` (standing in for PostgreSQL); yields the relay's port."""
    tls = ensure_server_tls(pg_conf_dir, "127.0.0.1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _UpstreamServer(str(upstream), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    argv = [sys.executable, "-m", "airflow_celery.local.pg_tls", f"127.0.0.1:{port}", str(upstream)]
    process = subprocess.Popen([*argv, str(tls.cert_file), str(tls.key_file)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "pg_tls did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
        server.server_close()
