"""Two `local up` on one state dir: the second fails at once and names the first; the lock dies with its holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from airflow_celery.local.errors import LocalError
from airflow_celery.local.lock import state_dir_lock
from airflow_celery.local.options import validate_up_options
from airflow_celery.local.runner import up


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    root = tmp_path / "state"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from airflow_celery.local.lock import state_dir_lock
            with state_dir_lock(Path({str(root)!r})):
                print("locked", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = rf"another `airflow-celery local up` is running on .*\(pid {holder.pid}\)"
        with pytest.raises(LocalError, match=refused), state_dir_lock(root):
            pass
    finally:
        holder.communicate("\n", timeout=30)
    with state_dir_lock(root):  # released when its holder ended
        pass


def test_up_takes_the_lock_before_anything_else(tmp_path, capsys):
    dags = tmp_path / "dags"
    dags.mkdir()
    options = validate_up_options(1, 1, tmp_path / "state", dags)
    from rich.console import Console

    with state_dir_lock(options.state_dir), pytest.raises(LocalError, match="another `airflow-celery local up`"):
        up(options, Console(quiet=True))
    assert not (options.state_dir / "secrets.json").exists()
    assert not (options.state_dir / "supervisord.conf").exists()


def test_the_lock_is_released_after_a_failed_block(tmp_path):
    with pytest.raises(RuntimeError), state_dir_lock(tmp_path):
        raise RuntimeError("up failed")
    with state_dir_lock(tmp_path):
        pass


def test_a_state_dir_made_only_for_the_lock_is_removed_when_up_fails_early(tmp_path):
    root = tmp_path / "fresh"
    with pytest.raises(LocalError), state_dir_lock(root):
        raise LocalError("preflight: redis-server is missing")
    assert not root.exists()
    (root / "pgdata").mkdir(parents=True)  # an existing state dir is never removed
    with state_dir_lock(root):
        pass
    assert (root / "pgdata").is_dir()
