"""Airflow's real token check, run by the auth manager of the env contract (api_server/auth_manager.py) in a
worker thread: a valid token gives its user, a revoked or an expired one the errors the API turns into 403 and 401.

One interpreter on a temporary SQLite database: `airflow db migrate` in-process (as the migrate job runs it), a
FAB user, then tokens signed by the auth manager itself. Marked `airflow`: it runs Airflow (about half a minute).
"""

from __future__ import annotations

import pytest

from airflow_celery.cluster.env import FAB_AUTH_MANAGER
from tests.airflow_probe import run_probe

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PROBE = r"""
import json, threading

import anyio
from airflow_celery.entrypoint import migrate

migrate.run_airflow_cli([["db", "migrate"]])

from airflow.api_fastapi.app import create_auth_manager
from airflow.models.revoked_token import RevokedToken
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

with get_application_builder() as appbuilder:
    role = appbuilder.sm.find_role("Viewer")
    appbuilder.sm.add_user("probe", "Probe", "User", "probe@example.com", role, password="not-used-here")
    user = appbuilder.sm.find_user(username="probe")

manager = create_auth_manager()
valid = manager.generate_jwt(user)
revoked = manager.generate_jwt(user)
manager.revoke_token(revoked)
expired = manager.generate_jwt(user, expiration_time_in_seconds=-3600)

checked_in = []
original = RevokedToken.is_revoked.__func__

def is_revoked(cls, jti, **kwargs):
    checked_in.append(threading.get_ident())
    return original(cls, jti, **kwargs)

RevokedToken.is_revoked = classmethod(is_revoked)
found = {"manager": type(manager).__name__}

async def main():
    loop_thread = threading.get_ident()
    for name, token in (("valid", valid), ("revoked", revoked), ("expired", expired)):
        try:
            found[name] = (await manager.get_user_from_token(token)).username
        except Exception as error:
            found[name] = f"{type(error).__name__}: {error}"
    found["checked_on_the_loop"] = [thread == loop_thread for thread in checked_in]

anyio.run(main)
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("airflow_home")
    return run_probe(
        home,
        PROBE,
        AIRFLOW__CORE__AUTH_MANAGER=FAB_AUTH_MANAGER,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__API_AUTH__JWT_SECRET="a-secret-for-this-test-only",
    )


def test_airflows_check_runs_in_a_worker_thread_with_the_env_contracts_auth_manager(found):
    assert found["manager"] == FAB_AUTH_MANAGER.rsplit(".", 1)[1]
    # valid and revoked reach the revocation query; an expired token is refused before it
    assert found["checked_on_the_loop"] == [False, False]


def test_a_valid_token_gives_its_user(found):
    assert found["valid"] == "probe"


def test_a_revoked_token_is_refused(found):
    assert found["revoked"] == "InvalidTokenError: Token has been revoked"


def test_an_expired_token_is_refused(found):
    assert found["expired"].startswith("ExpiredSignatureError")
