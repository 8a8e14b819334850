"""runner.running: the cluster started for a `with` block is stopped however the block ends; up() waits for
each role as long as the options say."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from airflow_celery.local import runner
from airflow_celery.local.options import DEFAULT_HEALTH_TIMEOUT, validate_up_options


@pytest.fixture
def calls(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(runner, "up", lambda options, console: calls.append(("up", options.state_dir)) or "cluster")
    monkeypatch.setattr(
        runner, "down", lambda state_dir, console, purge=False: calls.append(("down", state_dir, purge))
    )
    return calls


def test_running_stops_the_cluster_when_the_block_raises(tmp_path, calls):
    options = validate_up_options(1, 1, tmp_path / "state", tmp_path)
    with pytest.raises(RuntimeError), runner.running(options, Console(quiet=True)) as cluster:
        assert cluster == "cluster"
        raise RuntimeError("the benchmark failed")
    assert calls == [("up", options.state_dir), ("down", options.state_dir, False)]


def test_running_stops_the_cluster_when_it_did_not_start(tmp_path, monkeypatch):
    """up() stops what it started on failure itself; running() still calls down(), which finds nothing left."""
    stopped = []
    monkeypatch.setattr(runner, "up", lambda options, console: (_ for _ in ()).throw(TimeoutError("unhealthy")))
    monkeypatch.setattr(runner, "down", lambda state_dir, console, purge=False: stopped.append(purge))
    options = validate_up_options(1, 1, tmp_path / "state", tmp_path)
    with pytest.raises(TimeoutError), runner.running(options, Console(quiet=True), purge=True):
        pass
    assert stopped == [True]


def test_the_health_timeout_has_one_default_and_the_cli_shows_it():
    from click.testing import CliRunner

    from airflow_celery.cli import main

    assert runner.UpOptions.__dataclass_fields__["health_timeout"].default == DEFAULT_HEALTH_TIMEOUT == 120
    help_text = CliRunner().invoke(main, ["local", "up", "--help"]).output
    assert f"[default: {DEFAULT_HEALTH_TIMEOUT}]" in help_text


def test_a_start_removes_the_liveness_files_an_earlier_run_left_in_the_state_dir_and_nothing_else(tmp_path):
    """The workers', the watchdog's and the autoscaler's fresh-file checks read files in the state dir: one left by
    the last run (a `down` and an `up` within two minutes) would pass the check before the new process's first
    round. The start removes exactly those, and nothing outside the state dir."""
    from airflow_celery.cluster import FreshFileCheck
    from airflow_celery.local.state import StatePaths, all_secrets, create_state_dir, save_options

    options = validate_up_options("2:3", 4, tmp_path / "state", tmp_path)
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    all_secrets(paths, options.ports)
    save_options(paths, options, "node")
    cluster = runner.load_cluster(paths.root)
    checked = {
        program.name: Path(program.role.health.file(program.environment(cluster.secrets, cluster.base_env)))
        for program in cluster.programs
        if isinstance(program.role.health, FreshFileCheck)
    }
    assert {"worker-1", "worker-2", "worker-3", "watchdog", "autoscaler"} <= set(checked)
    for file in checked.values():
        file.touch()
    elsewhere = tmp_path / "watchdog.alive"
    elsewhere.touch()
    watchdog = next(program for program in cluster.programs if program.name == "watchdog")
    variable = watchdog.role.health.variable
    # A program whose file is not the state dir's: kept.
    cluster.programs.append(replace(watchdog, name="elsewhere", env={**watchdog.env, variable: str(elsewhere)}))

    runner.remove_stale_alive_files(cluster)

    assert [name for name, file in checked.items() if file.exists()] == []
    assert elsewhere.exists()
