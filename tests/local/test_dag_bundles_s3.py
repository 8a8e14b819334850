"""DAGs from S3 on the real local cluster: `local up --dags-s3` against moto's S3 server, `dags push` to ship.

The same assertions as the git source (test_dag_bundles.py), on a small cluster of its own: a pushed version
reaches new runs while a run started before finishes on its own version, every task included (the API's bundle
and DAG version fields, and the code's returned constant); a broken folder is refused by `dags push` with its
file and line, nothing changes, and the previous version keeps running.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.local.cluster_support import HEALTH_TIMEOUT, LESS_IDLE_CPU, Cluster, cli, local_up
from tests.local.test_dag_bundles import (
    BROKEN,
    DAG_ID,
    PROBE,
    REFRESH_INTERVAL,
    _assert_ran_at,
    _assert_ran_on,
    _returned,
    _run_state,
    _tis,
    _versions,
    _wait,
    _wait_for_new_version,
    _wait_run,
)
from tests.moto_support import moto_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
BUCKET = "local-dags"


class S3Cluster(Cluster):
    folder: Path
    versions: list[str]

    def push(self, code_or_text: str, *, raw: bool = False) -> tuple[int, str]:
        (self.folder / "bundle_probe.py").write_text(code_or_text if raw else PROBE.format(code=code_or_text))
        result = self.cli("dags", "push", "local", "--dir", str(self.folder))
        return result.returncode, result.stdout + result.stderr


def _version_of(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("version: "))


@pytest.fixture(scope="module")
def s3_cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3bundles")
    folder = root / "dags"
    folder.mkdir()
    (folder / "bundle_probe.py").write_text(PROBE.format(code="v1"))
    state_dir = root / "state"
    with moto_server() as moto:
        up_args = ["local", "up", "--workers", "1", "--concurrency", "4", "--state-dir", str(state_dir)]
        up_args += ["--dags-s3", f"{BUCKET}/team", "--dags-s3-endpoint", moto.endpoint, "--dags-dir", str(folder)]
        up_args += ["--dags-refresh-interval", str(REFRESH_INTERVAL), "--health-timeout", str(HEALTH_TIMEOUT)]
        up_args += LESS_IDLE_CPU
        try:
            result, ports = local_up(tmp_path_factory, up_args)
            assert "pushed" in result.stdout
            cluster = S3Cluster(state_dir, ports, folder)
            cluster.folder = folder
            yield cluster
        finally:
            down = cli("local", "down", "--purge", "--state-dir", str(state_dir), timeout=300)
            print(down.stdout, down.stderr)


def test_a_push_reaches_new_runs_while_a_running_run_finishes_on_its_own_version(s3_cluster):
    api = s3_cluster.api()
    try:
        dag = api.wait_for_dag(DAG_ID, timeout=120)
        old = dag["bundle_version"]
        assert dag["bundle_name"] == "dags" and len(old) == 64
        running_id, _ = api.trigger(DAG_ID, conf={"sleep": 25})
        _wait(lambda: any(t["state"] == "running" for t in _tis(api, DAG_ID, running_id)), 90, "first task to run")

        before = _versions(api, DAG_ID)[0]["version_number"]
        pushed_at = time.time()
        code, output = s3_cluster.push("v2")
        assert code == 0, output
        new = _version_of(output)
        _wait_for_new_version(api, DAG_ID, new, before)
        new_id, _ = api.trigger(DAG_ID, conf={"sleep": 0})
        first_start = _wait(
            lambda: next((t["start_date"] for t in _tis(api, DAG_ID, new_id) if t["start_date"]), None),
            90,
            "the new run's first task to start",
        )
        print(f"push -> first task of a new run: {datetime.fromisoformat(first_start).timestamp() - pushed_at:.1f} s")
        assert _wait_run(api, DAG_ID, new_id)["state"] == "success"
        _assert_ran_on(api, DAG_ID, new_id, new)
        assert _returned(api, DAG_ID, new_id, "second") == ["v2", "v2"]
        # The run pushed over: its own version and the code's constant (its DAG version's pointer may move in
        # Airflow's race: test_dag_bundles.py, `_assert_ran_at`).
        assert _wait_run(api, DAG_ID, running_id)["state"] == "success"
        _assert_ran_at(api, DAG_ID, running_id, old)
        assert _returned(api, DAG_ID, running_id, "second") == ["v1", "v1"]
    finally:
        api.close()


def test_a_broken_folder_is_refused_with_its_line_and_the_current_version_keeps_running(s3_cluster):
    api = s3_cluster.api()
    try:
        current = _versions(api, DAG_ID)[0]["bundle_version"]
        code, output = s3_cluster.push(BROKEN.format(code="v3"), raw=True)
        assert code == 1
        assert "bundle_probe.py:3" in output and "nothing was uploaded" in output
        run_id, _ = api.trigger(DAG_ID, conf={"sleep": 0})
        assert _wait_run(api, DAG_ID, run_id)["state"] == "success"
        assert _run_state(api, DAG_ID, run_id)["bundle_version"] == current
        assert _returned(api, DAG_ID, run_id, "second") == ["v2", "v2"]
    finally:
        api.close()
