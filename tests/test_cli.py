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
    for command in ("up", "status", "info", "trigger", "logs", "airflow", "down"):
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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conf", '{"x": 1,}'], "--conf is not valid JSON: Expecting property name enclosed in double quotes at"),
        (["--logical-date", "2026-12-06T10:00"], "has no time zone"),
        (["--logical-date", "soon"], "is not a date"),
        (["--run-id", "a b"], "is not allowed"),
        (["--conf", "{}", "--conf-file", "x.json"], "either --conf or --conf-file"),
    ],
)
def test_bad_trigger_options_fail_before_any_request(monkeypatch, tmp_path, args, message):
    def no_request(state_dir):
        raise AssertionError("the API was called before the options were checked")

    monkeypatch.setattr("airflow_celery.local.trigger.api_for", no_request)
    result = CliRunner().invoke(main, ["local", "trigger", "d", *args, "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_trigger_passes_the_checked_options(monkeypatch, tmp_path):
    seen = {}

    def fake_trigger(state_dir, dag_id, wait, timeout, console, options):
        seen.update(dag_id=dag_id, options=options)

    monkeypatch.setattr("airflow_celery.local.trigger.trigger_dag", fake_trigger)
    conf = tmp_path / "conf.json"
    conf.write_text('{"x": "from-file"}')
    args = ["--conf-file", str(conf), "--logical-date", "2026-12-06T10:00:00Z", "--run-id", "r1"]
    result = CliRunner().invoke(main, ["local", "trigger", "d", *args, "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["options"].conf == {"x": "from-file"}
    assert seen["options"].run_id == "r1"
    assert seen["options"].logical_date.value.isoformat() == "2026-12-06T10:00:00+00:00"


def test_airflow_passes_every_argument_after_its_own_options(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(
        "airflow_celery.local.airflow_cli.run_airflow", lambda state_dir, args: seen.update(args=args) or 0
    )
    argv = ["local", "airflow", "--state-dir", str(tmp_path), "dags", "list", "--output", "json", "-v"]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert seen["args"] == ("dags", "list", "--output", "json", "-v")


def test_info_says_where_to_log_in_without_printing_passwords(tmp_path):
    from airflow_celery.local.options import validate_up_options
    from airflow_celery.local.state import all_secrets, save_options

    (tmp_path / "dags").mkdir()
    options = validate_up_options(2, 4, tmp_path / "state", tmp_path / "dags")
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    secrets = all_secrets(paths, options.ports)
    save_options(paths, options, "host")
    result = CliRunner().invoke(main, ["local", "info", "--state-dir", str(paths.root)])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{options.ports['api-server.http']}/" in result.output
    assert f"http://127.0.0.1:{options.ports['flower.http']}/flower/" in result.output
    assert "key 'admin-password' of" in result.output and str(paths.secrets) in result.output.replace("\n", "")
    assert secrets["admin-password"] not in result.output
    shown = CliRunner().invoke(main, ["local", "info", "--show-passwords", "--state-dir", str(paths.root)])
    assert secrets["admin-password"] in shown.output
