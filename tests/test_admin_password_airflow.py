"""migrate against a real Airflow 3.3 and FAB: a rotated admin secret reaches the database; pending migrations are
seen. Each step runs in its own interpreter (Airflow reads its config once per process) on a temporary SQLite
database, as the entrypoint runs them in the migrate container: `db migrate` through the CLI in-process, then
entrypoint/migrate.py, ensure_admin. Passwords travel in the environment, never on a command line.
Marked `airflow`: it runs Airflow (about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from airflow_celery.cluster.env import FAB_AUTH_MANAGER as FAB  # the env contract's, as the cluster runs it

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

AIRFLOW_32_HEAD = "1d6611b6ab7c"
"""The schema head of Airflow 3.2.0 (airflow/utils/db.py, _REVISION_HEADS_MAP): a database one minor behind."""

PROBE = r"""
import json, os, sys
import sqlalchemy
from airflow_celery.entrypoint import migrate as entrypoint

step, url = sys.argv[1], os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
if step == "pending":
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        print(json.dumps({"pending": entrypoint.migrations_pending(connection)}))
    sys.exit(0)
entrypoint.run_airflow_cli([["db", "migrate"]])
outcome = entrypoint.ensure_admin("admin", os.environ["PROBE_PASSWORD"])
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    accepts = {name: appbuilder.sm.check_password("admin", os.environ[name]) for name in ("PROBE_PASSWORD", "OLD")}
print(json.dumps({"outcome": outcome, "accepts": accepts}))
"""


def _run(home, step: str, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **extra,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, step], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> tuple[object, dict]:
    """One fresh database migrated with its admin created, for both tests (a migration from nothing is most of their
    time): the folder, and what that first migrate reported."""
    home = tmp_path_factory.mktemp("migrated")
    first = _run(home, "migrate", PROBE_PASSWORD="first-secret", OLD="first-secret")
    return home, first


def _copy_of(home, tmp_path):
    shutil.copy(home / "airflow.db", tmp_path / "airflow.db")
    return tmp_path


def test_a_rotated_admin_secret_resets_the_password_once(migrated, tmp_path):
    home, first = migrated
    assert first == {"outcome": "created", "accepts": {"PROBE_PASSWORD": True, "OLD": True}}
    home = _copy_of(home, tmp_path)

    rotated = _run(home, "migrate", PROBE_PASSWORD="rotated-secret", OLD="first-secret")
    # Before this fix `users create` only printed "already exists": the old password kept working.
    assert rotated == {"outcome": "reset", "accepts": {"PROBE_PASSWORD": True, "OLD": False}}

    again = _run(home, "migrate", PROBE_PASSWORD="rotated-secret", OLD="first-secret")
    assert again["outcome"] == "unchanged"  # no reset: the user's sessions are kept


def test_pending_migrations_are_seen_only_on_a_schema_behind_this_airflow(migrated, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(empty, "pending") == {"pending": False}  # an empty database: nothing runs on it yet
    home = _copy_of(migrated[0], tmp_path)
    assert _run(home, "pending") == {"pending": False}

    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (AIRFLOW_32_HEAD,))
    assert _run(home, "pending") == {"pending": True}
