"""`local trigger|logs|airflow` as a new user runs them, on the shared cluster, with DAGs that ship with Airflow.

Airflow's `tutorial` and its asset examples are copied from the installed Airflow into the cluster's dags folder
(plus a file that cannot import), then parsed at once with `local airflow dags reserialize`: the dag-processor
would only find new files at its next folder scan ([dag_processor] refresh_interval, 300 s).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

if importlib.util.find_spec("airflow") is None:
    pytest.skip("local mode needs airflow: pip install 'airflow-celery[local]'", allow_module_level=True)

from tests.local.cluster_support import Cluster, cli  # noqa: E402

EXAMPLES = Path(importlib.util.find_spec("airflow").submodule_search_locations[0]) / "example_dags"
EXAMPLE_FILES = (
    "tutorial.py",
    "example_assets.py",
    "example_asset_decorator.py",
    "example_outlet_event_extra.py",
    "example_inlet_event_extra.py",
)
BROKEN = "cli_broken_on_purpose.py"
PARAMS_MARK = "cli-params-probe x="
CONNECTION_MARK = "cli-connection-probe host="
FAIL_MARK = "cli-fail-probe: about to fail"
ASSET_MARK = "cli-asset-probe extra="
RUN_TIMEOUT = 180


@pytest.fixture(scope="module")
def examples(cluster: Cluster):
    for name in EXAMPLE_FILES:
        shutil.copy(EXAMPLES / name, cluster.dags / name)
    # The DagBag skips a file that does not mention both "airflow" and "dag" ([core] dag_discovery_safe_mode).
    (cluster.dags / BROKEN).write_text(
        "from airflow.sdk import DAG  # noqa: F401\nimport a_module_that_does_not_exist_for_the_cli_test\n"
    )
    result = _airflow(cluster, "dags", "reserialize", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    yield cluster
    # The examples stay (their DAGs are paused unless a test triggered them); the broken file goes, and its
    # import error with the dag-processor's next scan.
    (cluster.dags / BROKEN).unlink(missing_ok=True)


def _airflow(cluster: Cluster, *args: str, timeout: float = 120):
    """`local airflow`: its own options come first, everything after the Airflow command goes to Airflow."""
    return cli("local", "airflow", "--state-dir", str(cluster.state_dir), *args, timeout=timeout)


def _trigger(cluster: Cluster, dag_id: str, *args: str) -> tuple[int, str, str]:
    result = cluster.cli("local", "trigger", dag_id, *args, "--wait", "--timeout", str(RUN_TIMEOUT), timeout=400)
    match = re.search(r"triggered \S+: run (\S+)", result.stdout)
    assert match, f"no run id in:\n{result.stdout}\n{result.stderr}"
    return result.returncode, match.group(1), result.stdout + result.stderr


def test_airflows_tutorial_triggered_with_defaults_succeeds(examples):
    code, run_id, output = _trigger(examples, "tutorial")
    assert code == 0, output
    api = examples.api()
    try:
        run = api.run("tutorial", run_id)
        states = {t.task_id: t.state for t in api.task_instances("tutorial", run_id)}
    finally:
        api.close()
    assert run["logical_date"] is not None, "the UI's trigger form sends a logical date; so must we"
    assert run["data_interval_start"] is not None
    assert states == {"print_date": "success", "sleep": "success", "templated": "success"}


def test_conf_reaches_params_and_local_logs_prints_the_log(examples):
    code, run_id, output = _trigger(examples, "cli_params_probe", "--conf", '{"x": "from-conf-21"}')
    assert code == 0, output
    logs = examples.cli("local", "logs", "cli_params_probe", "latest", "echo_x", timeout=120)
    assert logs.returncode == 0, logs.stdout + logs.stderr
    assert f"===== cli_params_probe {run_id} echo_x try 1 (success) =====" in logs.stdout
    assert f"{PARAMS_MARK}from-conf-21" in logs.stdout


def test_a_conf_that_breaks_a_param_is_refused_with_airflows_reason(examples):
    result = examples.cli("local", "trigger", "cli_params_probe", "--conf", '{"x": 5}', timeout=120)
    assert result.returncode == 1
    assert "HTTP 400 Invalid input for param x: 5 is not of type 'string'" in result.stderr, result.stderr
    assert "change the value it names" in result.stderr


def test_wait_prints_a_failed_tasks_log_tail_and_the_next_step(examples):
    code, run_id, output = _trigger(examples, "cli_fail_probe")
    assert code == 1
    assert "===== fail (failed), try 1: last" in output
    tail = output[output.index("===== fail (failed)") :]
    assert FAIL_MARK in tail
    assert "Command exited with return code 3" in tail
    assert f"airflow-celery local logs cli_fail_probe {run_id}" in output


def test_connection_added_with_the_airflow_cli_is_read_by_a_task(examples):
    add = _airflow(
        examples, "connections", "add", "cli_probe_conn",
        "--conn-type", "http", "--conn-host", "probe.example", "--conn-login", "probe-user",
        timeout=120,
    )  # fmt: skip
    assert add.returncode == 0, add.stdout + add.stderr
    code, run_id, output = _trigger(examples, "cli_connection_probe")
    assert code == 0, output
    logs = examples.cli("local", "logs", "cli_connection_probe", run_id, "read_connection", timeout=120)
    assert f"{CONNECTION_MARK}probe.example login=probe-user" in logs.stdout, logs.stdout + logs.stderr


def test_list_import_errors_shows_the_broken_file(examples):
    result = _airflow(examples, "dags", "list-import-errors", "--output", "json")
    # Airflow's answer is its exit code too: 1 when it lists errors (cli/commands/dag_command.py,
    # dag_list_import_errors: `if data: sys.exit(1)`).
    assert result.returncode == 1, result.stdout + result.stderr
    # Airflow's own warnings come first, on stdout too; the JSON is the last line.
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    broken = [e for e in errors if e["filepath"].endswith(BROKEN)]
    assert broken, errors
    assert "a_module_that_does_not_exist_for_the_cli_test" in broken[0]["error"]


def _wait_for_asset_triggered_success(api, dag_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        runs = [r for r in api.dag_runs(dag_id) if r["run_type"] == "asset_triggered"]
        if runs and runs[0]["state"] == "success":
            return runs[0]
        assert not runs or runs[0]["state"] != "failed", f"{dag_id}'s asset-triggered run failed: {runs[0]}"
        assert time.monotonic() < deadline, f"{dag_id}: no successful asset-triggered run after {timeout} s: {runs}"
        time.sleep(1)


def test_producers_trigger_their_consumers_which_read_the_inlet_events(examples):
    consumers = ("asset_consumes_1", "consumes_asset_decorator", "cli_asset_consumer")
    api = examples.api()
    try:
        for dag_id in consumers:  # DAGs are paused at creation; a paused DAG gets no asset-triggered runs
            api.set_paused(dag_id, False)
        for producer in ("asset_produces_1", "asset1_producer", "cli_asset_producer"):
            code, _, output = _trigger(examples, producer)
            assert code == 0, output
        runs = {dag_id: _wait_for_asset_triggered_success(api, dag_id) for dag_id in consumers}
    finally:
        api.close()
    logs = examples.cli("local", "logs", "cli_asset_consumer", runs["cli_asset_consumer"]["dag_run_id"], "consume")
    assert f"{ASSET_MARK}42 triggered_by=[{{'rows': 42, 'producer_run': 'manual__" in logs.stdout, logs.stdout


def test_the_event_extra_examples_conflict_over_one_uri_and_one_side_is_inactive(examples):
    """example_outlet_event_extra.py's Asset(uri="s3://output/1.txt", name="test-asset") and
    example_inlet_event_extra.py's Asset("s3://output/1.txt") (name = uri, sdk/definitions/asset/__init__.py) share a
    URI. An active asset's name and URI must both be unique: the dag-processor activates the first one it meets
    (dag_processing/collection.py activate_assets_if_possible, ON CONFLICT DO NOTHING), the scheduler's
    _update_asset_orphanage -> _activate_referenced_assets records "uri is already associated" as a DAG warning for
    the other, and a task with the inactive asset in its inlets or outlets fails before it runs
    (sdk/execution_time/task_runner.py _validate_task_inlets_and_outlets). Airflow's examples, not the cluster."""
    api = examples.api()
    try:
        active = api._call("GET", "/api/v2/assets", params={"uri_pattern": "s3://output/1.txt"})["assets"]
    finally:
        api.close()
    names = {asset["name"] for asset in active if asset["uri"] == "s3://output/1.txt"}
    assert len(names) == 1 and names <= {"test-asset", "s3://output/1.txt"}, active
    # Which side wins depends on which file was parsed first. (The scheduler's DAG warning "uri is already
    # associated" follows within [scheduler] parsing_cleanup_interval, 60 s: not waited for here.)
    loser, inactive = "read_asset_event", "s3://output/1.txt"
    if names == {"s3://output/1.txt"}:
        loser, inactive = "asset_with_extra_by_yield", "test-asset"
    code, _, output = _trigger(examples, loser)
    assert code == 1
    assert "AirflowInactiveAssetInInletOrOutletException: Task has the following inactive assets" in output, output
    assert f"Asset(name='{inactive}', uri='s3://output/1.txt')" in output
