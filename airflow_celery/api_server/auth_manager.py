"""The FAB auth manager, with its token check moved off the api-server's event loop.

Every UI and REST request resolves its JWT to a user in `BaseAuthManager.get_user_from_token`, an `async`
method that makes two synchronous database calls on the event loop (Airflow 3.3.2 and 3.4.0b2):
`RevokedToken.is_revoked` (every request) and FAB's `deserialize_user` (once per user every `[fab] cache_ttl`
seconds). Each waits for a connection of the process's SQLAlchemy pool. When the pool is fully checked out by
requests running in the thread pool (task starts and heartbeats of the Task Execution API, UI polls), the loop
blocks in that wait; but those requests return their connections only through the loop (the response is
serialized in the thread pool, and the session is closed after it). Nothing moves until the pool's timeout
(`[database] sql_alchemy_pool_timeout`, 30 s) fails the waiting request with a 500: every request of the process,
health checks and task heartbeats included, stalls 30 s. Reproduced on the local cluster (2026-12-07): 16 task
starts and 6 task-instance polls at once stalled the api-server for 60 s, with 8 connections idle in transaction
(tests/local/test_api_server_pool.py holds the pool with a table lock and checks it no longer stalls).
Upstream: apache/airflow#66493 (closed without a fix), apache/airflow#73422 (open, moves the revocation check to
the thread pool).

Here the whole token check runs in a worker thread, on an event loop of that thread: while it waits for a
connection the event loop keeps serving, and the requests holding the connections finish and give them back.
Nothing of Airflow's check is rewritten: the thread awaits Airflow's own method. As many checks run at once as the
pool has connections (more would only wait for one), in threads of their own limiter, so a check can start even
when the thread pool of the sync endpoints is full. FAB caches users in a `TTLCache` without a lock, so
`deserialize_user` runs one at a time; its database query runs only on a miss, once per user every `[fab]
cache_ttl` seconds. The worker threads are shared with sync endpoints and FAB's Flask views, which leave their
scoped session (`settings.Session`, one per thread) open; the check starts and ends with a fresh one, so it neither
commits another request's transaction nor reuses a broken one. The one case kept on the event loop is a JWKS
validator that fetches its keys over HTTP (`[api_auth] trusted_jwks_url`), whose HTTP client belongs to the loop
that opened it; this project signs with a shared secret.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from airflow import settings
from airflow.configuration import conf
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from anyio.lowlevel import RunVar

_CHECKS: RunVar[anyio.CapacityLimiter] = RunVar("airflow_celery_token_checks")
"""The token checks' own threads, per event loop (an anyio limiter belongs to the loop it was made in)."""
_USER_CACHE = threading.Lock()
"""FAB's user cache (`FabAuthManager.cache`, a cachetools TTLCache) is not safe across threads."""


def _checks_at_once() -> anyio.CapacityLimiter:
    try:
        return _CHECKS.get()
    except LookupError:
        pool = conf.getint("database", "sql_alchemy_pool_size") + conf.getint("database", "sql_alchemy_max_overflow")
        limiter = anyio.CapacityLimiter(max(1, pool))
        _CHECKS.set(limiter)
        return limiter


def _run_to_end(check: Callable[[str], Awaitable[Any]], token: str) -> Any:
    """In the worker thread: Airflow's coroutine, on an event loop of this thread, with a fresh scoped session."""
    settings.Session.remove()
    try:
        return asyncio.run(check(token))
    finally:
        settings.Session.remove()


def fetches_jwks() -> bool:
    return conf.get("api_auth", "trusted_jwks_url", fallback="").startswith(("http://", "https://"))


class OffLoopFabAuthManager(FabAuthManager):
    """FabAuthManager whose `get_user_from_token` waits for the database in a worker thread (module docstring)."""

    async def get_user_from_token(self, token: str) -> Any:
        check = super().get_user_from_token
        if fetches_jwks():
            return await check(token)
        return await anyio.to_thread.run_sync(_run_to_end, check, token, limiter=_checks_at_once())

    def deserialize_user(self, token: dict[str, Any]) -> Any:
        with _USER_CACHE:
            return super().deserialize_user(token)
