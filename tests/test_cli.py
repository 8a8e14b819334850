import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from airflow_celery.cli import main
from airflow_celery.local.state import StatePaths, create_state_dir


def test_bad_workers_is_one_clear_error_and_nothing_is_created(tmp_path):
    state = tmp_path / "state"
    result = CliRunner().invoke(main, ["local", "up", "--workers", "0", "--state-dir", str(state), "--dags-dir", "."])
    assert result.exit_code == 1
    assert "--workers=0 is out of range; allowed: 1 to 8" in result.output
    assert "Traceback" not in result.output
    assert not state.exists()


def test_status_without_a_cluster_says_how_to_start_one(tmp_path):
    result = CliRunner().invoke(main, ["local", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "airflow-celery local up" in result.output


@pytest.mark.parametrize("lookalike", [None, "secrets.json", "cluster.json"])
def test_purge_refuses_a_directory_that_is_not_a_state_dir(tmp_path, lookalike):
    (tmp_path / "precious.txt").write_text("keep me")
    if lookalike:  # a project with a file of the same name is still not a state dir
        (tmp_path / lookalike).write_text("{}")
    result = CliRunner().invoke(main, ["local", "down", "--purge", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a local-cluster state dir" in result.output
    assert (tmp_path / "precious.txt").exists()


def test_purge_deletes_a_state_dir_that_up_created(tmp_path):
    paths = StatePaths(tmp_path / "state")
    create_state_dir(paths)
    result = CliRunner().invoke(main, ["local", "down", "--purge", "--state-dir", str(paths.root)])
    assert result.exit_code == 0, result.output
    assert not paths.root.exists()


def test_help_lists_the_commands():
    result = CliRunner().invoke(main, ["local", "--help"])
    assert result.exit_code == 0
    for command in ("up", "status", "trigger", "down"):
        assert command in result.output


def test_compose_env_file_is_written_private_and_never_overwritten(tmp_path):
    target = tmp_path / ".env"
    first = CliRunner().invoke(main, ["compose", "env-file", str(target)])
    assert first.exit_code == 0, first.output
    assert target.stat().st_mode & 0o777 == 0o600
    content = target.read_text()
    second = CliRunner().invoke(main, ["compose", "env-file", str(target)])
    assert second.exit_code == 1
    assert "already exists" in second.output
    assert target.read_text() == content


def test_plan_prints_tables_and_json(monkeypatch):
    from airflow_celery.plan import render

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    text = CliRunner().invoke(main, ["plan", "dev"])
    assert text.exit_code == 0, text.output
    for heading in ("Resources (", "Roles", "Network: who may reach whom", "Monthly cost estimate", "Amazon MWAA"):
        assert heading in text.output

    result = CliRunner().invoke(
        main,
        [
            "plan",
            "dev",
            "--json",
            "--config",
            "workerCount=2",
            "--config",
            "workerMaxCount=2",
            "--config",
            "dbInstanceClass=db.t4g.medium",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["prices_as_of"] == render.PRICES_AS_OF
    assert document["cost"]["total_monthly_usd"] == round(
        sum(line["monthly_usd"] for line in document["cost"]["lines"]), 2
    )
    assert {role["role"]: role["count"] for role in document["roles"]}["worker"] == 2
    assert document["mwaa"]["slots"] == 32


def test_plan_errors_are_one_line_and_exit_1(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    region = CliRunner().invoke(main, ["plan", "dev", "--config", "aws:region=ap-south-1"])
    bad = CliRunner().invoke(main, ["plan", "dev", "--config", "workerConcurrency=999"])

    assert region.exit_code == 1 and "no prices for region 'ap-south-1'" in region.output
    assert bad.exit_code == 1
    assert "airflow-celery:workerConcurrency=999 is not valid: a whole number from 1 to 256" in bad.output
