"""The local PostgreSQL's TLS relay (airflow_celery/local/pg_tls.py) run for real in front of a stand-in server."""

from __future__ import annotations

import contextlib
import socketserver
from collections.abc import Iterator
from pathlib import Path

from bench import pg_tls_relay


@contextlib.contextmanager
def running_relay(pg_conf_dir: Path, upstream: Path, handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    """`python -m airflow_celery.local.pg_tls` on a free port with the certificate made into `pg_conf_dir`, in front
    of `handler` serving the unix socket `upstream` (standing in for PostgreSQL); yields the relay's port. The relay
    is started and waited for as `bench/pg_tls_relay.py` times it."""
    with (
        pg_tls_relay.stand_in(upstream, handler),
        pg_tls_relay.running_relay(pg_tls_relay.SHIPPED, pg_conf_dir, upstream) as (port, _),
    ):
        yield port
