"""The api-server keeps serving while its database pool is fully in use (airflow_celery/api_server/auth_manager.py).

Airflow checks every UI and REST token against the database on the api-server's event loop. With the pool fully
checked out by requests in the thread pool, that check blocked the loop, the requests holding the connections could
not finish without it, and the process stalled until the pool's 30 s timeout failed requests with a 500.
"""

from __future__ import annotations

import configparser
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import httpx
import pytest

from tests.local.cluster_support import Cluster

pytestmark = pytest.mark.integration

LOCK_SEEN_TIMEOUT = 30
"""Seconds for the held requests to reach the table lock: they start at once, a busy machine may delay them."""
ANSWER_TIMEOUT = 5
"""Seconds an api-server with a free event loop takes at most for a request that needs no database (it is
milliseconds); a blocked loop answers after the pool's 30 s timeout."""


def _pool_size(cluster: Cluster) -> int:
    """Connections of the api-server's one process, read from the environment the cluster runs it with."""
    conf = configparser.RawConfigParser()
    conf.read(cluster.state_dir / "supervisord.conf")
    env = dict(re.findall(r'(\w+)="([^"]*)"', conf["program:api-server"]["environment"]))
    assert env["AIRFLOW__API__WORKERS"] == "1", "the test fills one process's pool: local mode runs one worker"
    size, overflow = (int(env[f"AIRFLOW__DATABASE__SQL_ALCHEMY_{key}"]) for key in ("POOL_SIZE", "MAX_OVERFLOW"))
    return size + overflow


def _connect(cluster: Cluster):
    import psycopg2

    url = cluster.secrets["database-url"].replace("postgresql+psycopg2://", "postgresql://")
    return psycopg2.connect(url, connect_timeout=10)


def _waiting_on_lock(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM variable%'"
    )
    return cursor.fetchone()[0]


def test_a_full_database_pool_does_not_stall_the_api_server(cluster):
    """Hold the `variable` table locked; send one pool's worth of GET /api/v2/variables: they take every connection
    and wait on the lock. Then a request with a token: its check needs a connection too. The api-server must still
    answer at once, and every request must succeed within seconds of the lock's release.

    No more requests than the pool: one waiting for a connection fails after the pool's 30 s timeout, and on a
    loaded machine the lock can be held that long (CI, 2026-12-07: three pools' worth, one such 500)."""
    pool = _pool_size(cluster)
    base = f"http://127.0.0.1:{cluster.ports['api-server.http']}"
    api = cluster.api()
    headers = {"Authorization": api.client.headers["Authorization"]}
    api.close()

    def get(path: str) -> int:
        return httpx.get(base + path, headers=headers, timeout=90).status_code

    # psycopg2's own `with` ends a transaction, not the connection: closing() closes them even on a failure.
    with closing(_connect(cluster)) as holder, closing(_connect(cluster)) as observer:
        observer.autocommit = True
        statuses, took = _fill_the_pool_then_check(pool, base, get, holder, observer)
    assert statuses == [200] * (pool + 1), statuses
    assert took < ANSWER_TIMEOUT * 2, f"the requests ended {took:.1f} s after the lock's release"


def _fill_the_pool_then_check(pool: int, base: str, get, holder, observer) -> tuple[list[int], float]:
    with ThreadPoolExecutor(max_workers=pool + 1) as requests, holder.cursor() as lock, observer.cursor() as seen:
        try:
            lock.execute("LOCK TABLE variable IN ACCESS EXCLUSIVE MODE")
            held = [requests.submit(get, "/api/v2/variables?limit=1") for _ in range(pool)]
            deadline = time.monotonic() + LOCK_SEEN_TIMEOUT
            while _waiting_on_lock(seen) < pool:
                assert time.monotonic() < deadline, f"{_waiting_on_lock(seen)} requests reached the lock, not {pool}"
                time.sleep(0.1)
            checked = requests.submit(get, "/api/v2/pools")
            for _ in range(10):
                started = time.monotonic()
                assert get_unauthenticated(base + "/api/v2/version") == 200
                answered = time.monotonic() - started
                assert answered < ANSWER_TIMEOUT, f"the api-server answered after {answered:.1f} s: its loop blocked"
                time.sleep(0.1)
            assert _waiting_on_lock(seen) >= pool, "the pool's connections were not all held during the check"
        finally:
            holder.rollback()
            released = time.monotonic()
        statuses = [future.result(timeout=60) for future in [*held, checked]]
        return statuses, time.monotonic() - released


def get_unauthenticated(url: str) -> int:
    return httpx.get(url, timeout=ANSWER_TIMEOUT * 2).status_code
