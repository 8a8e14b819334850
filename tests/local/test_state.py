import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from airflow_celery.cluster.secrets import GENERATED
from airflow_celery.local.errors import LocalError
from airflow_celery.local.ports import check_ports_free, port_is_free
from airflow_celery.local.state import StatePaths, all_secrets, create_state_dir

PORTS = {"postgres.postgres": 15432, "redis.redis": 16379}


def test_secrets_file_is_private_and_reused(tmp_path):
    paths = StatePaths(tmp_path / "state")
    create_state_dir(paths)
    first = all_secrets(paths, PORTS)
    assert stat.S_IMODE(paths.secrets.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.root.stat().st_mode) in (0o700, 0o711)
    second = all_secrets(paths, {"postgres.postgres": 25432, "redis.redis": 26379})
    assert {k: second[k] for k in GENERATED} == {k: first[k] for k in GENERATED}
    # TLS with the server verified, as on RDS (tests/local/test_tls_verify.py)
    assert "127.0.0.1:25432/airflow?sslmode=verify-full&sslrootcert=" in second["database-url"]
    assert second["database-async-url"].endswith("127.0.0.1:25432/airflow?ssl=verify-full")
    assert "?sslmode=verify-full&sslrootcert=" in second["result-backend-url"]
    assert second["broker-url"].endswith("@127.0.0.1:26379/0")
    assert json.loads(paths.secrets.read_text()) == second


def test_damaged_secrets_file_says_how_to_recover(tmp_path):
    paths = StatePaths(tmp_path)
    paths.secrets.write_text("{not json")
    with pytest.raises(LocalError, match=r"damaged.*local down --purge"):
        all_secrets(paths, PORTS)


def test_port_in_use_is_detected_and_named():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free(port)
        expected = rf"port {port} \(api-server http\) is already in use by pid {os.getpid()}"
        with pytest.raises(LocalError, match=expected):
            check_ports_free({"api-server.http": port})
    assert port_is_free(port)


def test_cli_help_works():
    for args in (["--help"], ["local", "--help"], ["local", "up", "--help"], ["compose", "env-file", "--help"]):
        result = subprocess.run([sys.executable, "-m", "airflow_celery", *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout


def test_command_check_runs_in_the_given_environment_and_is_bounded():
    from airflow_celery.cluster import CommandCheck
    from airflow_celery.local.health import command_check

    assert command_check(CommandCheck('test "$ROLE_VALUE" = expected'), {"ROLE_VALUE": "expected"}).healthy
    assert not command_check(CommandCheck('test "$ROLE_VALUE" = expected'), {"ROLE_VALUE": "other"}).healthy
    slow = command_check(CommandCheck("sleep 30"), {}, timeout=0.5)
    assert not slow.healthy
    assert "timed out" in slow.detail


def test_stale_supervisord_socket_is_recognised_and_cleared(tmp_path):
    from airflow_celery.local.supervisor import clear_stale_socket, supervisord_pid

    paths = StatePaths(tmp_path)
    create_state_dir(paths)
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(paths.supervisor_socket))  # a socket file nobody listens on any more
    paths.supervisor_pidfile.write_text("999999")
    assert supervisord_pid(paths) is None
    assert clear_stale_socket(paths)
    assert not paths.supervisor_socket.exists()
    assert not paths.supervisor_pidfile.exists()


def test_stale_postmaster_pid_is_removed_but_a_live_one_is_an_error(tmp_path):
    from airflow_celery.local.postgres import clear_stale_postmaster_pid

    paths = StatePaths(tmp_path)
    paths.pgdata.mkdir()
    pidfile = paths.pgdata / "postmaster.pid"
    pidfile.write_text("999999\n")
    assert "stale" in clear_stale_postmaster_pid(paths)
    assert not pidfile.exists()
    with subprocess.Popen(["sleep", "30"]) as alive:  # a live pid that is not postgres: also stale
        pidfile.write_text(f"{alive.pid}\n")
        assert clear_stale_postmaster_pid(paths)
        alive.kill()


def test_new_secrets_over_an_existing_database_are_refused(tmp_path):
    """The database keeps the admin password and the fernet key it was made with: say so instead of drifting."""
    paths = StatePaths(tmp_path / "state")
    create_state_dir(paths)
    all_secrets(paths, PORTS)
    paths.pgdata.mkdir()
    (paths.pgdata / "PG_VERSION").write_text("18\n")
    kept = all_secrets(paths, PORTS)  # secrets.json still there: reused, fine
    paths.secrets.unlink()
    with pytest.raises(LocalError, match=r"secrets.json is missing but .*pgdata.*old admin password.*--purge"):
        all_secrets(paths, PORTS)
    assert not paths.secrets.exists()
    assert kept["admin-password"]
