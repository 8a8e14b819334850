"""runner.running: the cluster started for a `with` block is stopped however the block ends; up() waits for
each role as long as the options say."""

from __future__ import annotations

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
