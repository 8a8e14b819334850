"""The auth manager of the env contract (api_server/auth_manager.py) against the pinned Airflow and FAB.

- Why it exists, read from Airflow's source: `BaseAuthManager.get_user_from_token` is a coroutine that calls
  `RevokedToken.is_revoked` (a database query) without awaiting anything; when Airflow moves it off the event
  loop, this test fails and the subclass can go.
- That it still is FAB to Airflow: a FabAuthManager subclass whose class path contains "FabAuthManager", which is
  how Airflow tells FAB apart (dag_processing/collection.py, utils/db_cleanup.py).
- What it does, with a stand-in for Airflow's check that blocks as a wait for a pool connection does: the event
  loop keeps running while checks wait, checks run side by side but FAB's user cache is read by one thread at a
  time, each check starts and ends with a fresh scoped session, errors reach the caller, and a JWKS validator that
  fetches its keys over HTTP keeps the check on the loop.

One interpreter runs it all (Airflow reads its config once per process), with a temporary AIRFLOW_HOME.
Marked `airflow`: it imports Airflow (seconds).
"""

from __future__ import annotations

import pytest

from airflow_celery.cluster.env import FAB_AUTH_MANAGER
from tests.airflow_probe import run_probe

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

BLOCKED_FOR = 0.3
"""Seconds the stand-in check blocks its thread, as a wait for a pool connection does."""

PROBE = r"""
import inspect, json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

import anyio
import airflow.dag_processing.collection as collection
import airflow.utils.db_cleanup as db_cleanup
from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow import settings
from airflow.configuration import conf

blocked_for = float(sys.argv[1])
found = {}
manager_class = conf.getimport("core", "auth_manager")  # as the api-server loads it (api_fastapi/app.py)
found["is_fab"] = issubclass(manager_class, FabAuthManager)
found["fab_test_sees_it"] = [
    '"FabAuthManager" in conf.get("core", "auth_manager")' in inspect.getsource(module)
    for module in (collection, db_cleanup)
]
source = inspect.getsource(BaseAuthManager.get_user_from_token)
found["airflow_checks_on_the_loop"] = (
    inspect.iscoroutinefunction(BaseAuthManager.get_user_from_token)
    and "RevokedToken.is_revoked(jti)" in source
    and not any(offload in source for offload in ("await RevokedToken", "threadpool", "to_thread"))
)

lock = threading.Lock()
state = {"active": 0, "most": 0, "threads": []}

async def airflows_check(self, token):
    with lock:
        state["active"] += 1
        state["most"] = max(state["most"], state["active"])
        state["threads"].append(threading.get_ident())
    try:
        if token == "revoked":
            raise PermissionError("Token has been revoked")
        time.sleep(blocked_for)
        return f"user of {token}"
    finally:
        with lock:
            state["active"] -= 1

FabAuthManager.get_user_from_token = airflows_check
manager = object.__new__(manager_class)

users = {"active": 0, "most": 0}

def fabs_deserialize_user(self, token):
    with lock:
        users["active"] += 1
        users["most"] = max(users["most"], users["active"])
    time.sleep(0.05)
    with lock:
        users["active"] -= 1
    return token["sub"]

FabAuthManager.deserialize_user = fabs_deserialize_user
with ThreadPoolExecutor(4) as threads:
    found["users_deserialized"] = sorted(threads.map(manager.deserialize_user, [{"sub": str(n)} for n in range(4)]))
found["users_at_once"] = users["most"]

from airflow_celery.api_server.auth_manager import _run_to_end

async def sees_a_fresh_session(token):
    fresh = not settings.Session.registry.has()
    settings.Session()  # and leaves one open, as a sync endpoint can
    return fresh

def leftover_then_check():
    settings.Session()  # what an earlier job of this thread left
    fresh = _run_to_end(sees_a_fresh_session, "token")
    return fresh, settings.Session.registry.has()

with ThreadPoolExecutor(1) as thread:
    found["fresh_session"], found["session_left"] = thread.submit(leftover_then_check).result()

async def main():
    loop_thread = threading.get_ident()
    ticks = 0
    users = []

    async def tick():
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.01)

    async def check(token):
        users.append(await manager.get_user_from_token(token))

    async with anyio.create_task_group() as ticking:
        ticking.start_soon(tick)
        async with anyio.create_task_group() as checks:
            for number in range(3):
                checks.start_soon(check, f"token-{number}")
        found["ticks_during_checks"] = ticks
        found["users"] = sorted(users)
        found["on_the_loop"] = [thread == loop_thread for thread in state["threads"]]
        found["most_at_once"] = state["most"]
        try:
            await manager.get_user_from_token("revoked")
        except PermissionError as error:
            found["error"] = str(error)
        os.environ["AIRFLOW__API_AUTH__TRUSTED_JWKS_URL"] = "/etc/airflow/jwks.json"
        await manager.get_user_from_token("jwks-file")
        found["jwks_file_on_the_loop"] = state["threads"][-1] == loop_thread
        os.environ["AIRFLOW__API_AUTH__TRUSTED_JWKS_URL"] = "https://idp.example/.well-known/jwks.json"
        await manager.get_user_from_token("jwks")
        found["jwks_on_the_loop"] = state["threads"][-1] == loop_thread
        ticking.cancel_scope.cancel()

anyio.run(main)
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow_home")
    return run_probe(home, PROBE, str(BLOCKED_FOR), timeout=120, AIRFLOW__CORE__AUTH_MANAGER=FAB_AUTH_MANAGER)


def test_airflow_still_checks_each_token_against_the_database_on_the_event_loop(found):
    assert found["airflow_checks_on_the_loop"], (
        "BaseAuthManager.get_user_from_token no longer queries RevokedToken on the event loop: "
        "api_server/auth_manager.py may go, and [core] auth_manager back to FAB's own class"
    )


def test_the_auth_manager_is_fab_to_airflow(found):
    assert found["is_fab"]
    assert found["fab_test_sees_it"] == [True, True]
    assert "FabAuthManager" in FAB_AUTH_MANAGER


def test_the_event_loop_runs_while_token_checks_wait(found):
    assert found["users"] == ["user of token-0", "user of token-1", "user of token-2"]
    assert found["on_the_loop"] == [False, False, False]
    # Three checks blocked BLOCKED_FOR each, side by side; a 10 ms ticker on a free loop ran about 30 times.
    assert found["ticks_during_checks"] >= 10, found["ticks_during_checks"]


def test_token_checks_run_side_by_side_but_fabs_user_cache_one_at_a_time(found):
    """As many checks at once as the pool has connections; FAB caches users in a TTLCache without a lock."""
    assert found["most_at_once"] == 3
    assert found["users_deserialized"] == ["0", "1", "2", "3"]
    assert found["users_at_once"] == 1


def test_a_check_starts_and_ends_with_a_fresh_scoped_session(found):
    """The worker threads are shared with sync endpoints and FAB's views, which leave theirs open."""
    assert found["fresh_session"]
    assert not found["session_left"]


def test_a_refused_token_reaches_the_caller(found):
    assert found["error"] == "Token has been revoked"


def test_a_jwks_validator_fetching_over_http_keeps_the_check_on_the_event_loop(found):
    """Its HTTP client belongs to the loop that opened it; keys read from a file need no client."""
    assert found["jwks_on_the_loop"]
    assert not found["jwks_file_on_the_loop"]
