"""Shipping a DAG by git commit: `python -m bench.dag_bundles [--commits 3] [--refresh-interval 30] [--json FILE]`.

Starts its own local cluster with `--dags-git` on a local bare repository (Airflow's GitDagBundle, one worker),
then, for each of `--commits` commits that change the DAG's code:

- commit -> version: seconds from `git push` until the api-server lists a DAG version at the new commit
  (the dag-processor's next refresh, then its parse);
- commit -> first task: seconds from the push until the first task of a run triggered on that version started
  (the trigger is sent as soon as the version is there, so this is what a schedule that fires then would see);
- checkout per task: `bundle_prepare_ms` from each task's own log line "Worker startup parse complete" (the task
  runner times `DagBundlesManager().get_bundle(name, version).initialize()`): the first task of a version clones
  it, later ones find the checkout in place; the dags-folder bundle of `--dags-dir` is timed the same way,
  in-process, for the difference;
- disk per version: the size of each version's checkout on the worker, and of the bare clone behind them.

Self-contained: it imports only airflow_celery. The figures go into the README with their date.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from airflow_celery.local.api import AirflowApi
from airflow_celery.local.ports import free_ports

PORT_KEYS = ("postgres.postgres", "redis.redis", "api-server.http", "scheduler.health", "flower.http", "metrics.statsd")
DAG_ID = "bundle_bench"
DAG = """
from airflow.sdk import dag, task

CODE = "{code}"


@dag(dag_id="bundle_bench", schedule=None, catchup=False, doc_md="code {code}")
def bundle_bench():
    @task
    def first():
        return CODE

    @task
    def second(seen):
        return [seen, CODE]

    second(first())


bundle_bench()
"""


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airflow_celery", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def _commit(work: Path, code: str) -> str:
    (work / "dags").mkdir(exist_ok=True)
    (work / "dags" / "bundle_bench.py").write_text(DAG.format(code=code))
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", code, cwd=work)
    _git("push", "-q", "origin", "main", cwd=work)
    return _git("rev-parse", "HEAD", cwd=work)


def _wait(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


def _latest_version(api: AirflowApi) -> str | None:
    data = api._call("GET", f"/api/v2/dags/{DAG_ID}/dagVersions", params={"order_by": "-version_number", "limit": 1})
    versions = data["dag_versions"]
    return versions[0]["bundle_version"] if versions else None


def _tis(api: AirflowApi, run_id: str) -> list[dict]:
    return api._call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]


def _prepare_ms(api: AirflowApi, run_id: str, task_id: str) -> int | None:
    messages, _ = api.task_log(DAG_ID, run_id, task_id, 1)
    for message in messages:
        if isinstance(message, dict) and message.get("event") == "Worker startup parse complete":
            return int(message["bundle_prepare_ms"])
    return None


def _run(api: AirflowApi) -> tuple[str, float]:
    run_id, _ = api.trigger(DAG_ID)
    run = _wait(lambda: (r := api.run(DAG_ID, run_id))["state"] in ("success", "failed") and r, 300, "the run to end")
    if run["state"] != "success":
        raise RuntimeError(f"run {run_id} {run['state']}")
    first = min(datetime.fromisoformat(t["start_date"]) for t in _tis(api, run_id))
    return run_id, first.timestamp()


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _dags_folder_prepare_ms(tmp: Path) -> float:
    """The dags-folder bundle (`--dags-dir`, DAGs in the image) timed like the task runner times a git one."""
    code = (
        "import time; from airflow.dag_processing.bundles.manager import DagBundlesManager; "
        "t = time.monotonic(); b = DagBundlesManager().get_bundle('dags-folder'); b.initialize(); "
        "print((time.monotonic() - t) * 1000)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {"AIRFLOW_HOME": str(tmp / "plain-home"), "AIRFLOW__CORE__DAGS_FOLDER": str(tmp / "work" / "dags")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench(commits: int, refresh_interval: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-bundles-"))
    bare, work, state = tmp / "dags.git", tmp / "work", tmp / "state"
    _git("init", "-q", "--bare", "--initial-branch", "main", str(bare), cwd=tmp)
    _git("init", "-q", "--initial-branch", "main", str(work), cwd=tmp)
    _git("remote", "add", "origin", str(bare), cwd=work)
    hashes = [_commit(work, "v0")]
    ports = dict(zip(PORT_KEYS, free_ports(len(PORT_KEYS)), strict=True))
    port_args = [a for key, number in ports.items() for a in ("--port", f"{key}={number}")]
    up = ["local", "up", "--workers", "1", "--concurrency", "4", "--state-dir", str(state), "--health-timeout", "300"]
    up += ["--dags-git", str(bare), "--dags-subdir", "dags", "--dags-refresh-interval", str(refresh_interval)]
    started = time.monotonic()
    result = _cli(*up, *port_args)
    if result.returncode != 0:
        _cli("local", "down", "--purge", "--state-dir", str(state))
        raise RuntimeError(f"local up failed:\n{result.stdout}\n{result.stderr}")
    up_seconds = time.monotonic() - started
    secrets = json.loads((state / "secrets.json").read_text())
    api = AirflowApi(f"http://127.0.0.1:{ports['api-server.http']}", "admin", secrets["admin-password"])
    rounds, prepare_cold, prepare_warm = [], [], []
    try:
        api.wait_for_dag(DAG_ID, timeout=180)
        run_id, _ = _run(api)  # the first version, once, so every round starts warm
        for number in range(1, commits + 1):
            pushed = time.time()
            commit = _commit(work, f"v{number}")
            hashes.append(commit)
            _wait(lambda c=commit: _latest_version(api) == c, refresh_interval + 120, f"a version at {commit[:8]}")
            versioned = time.time()
            run_id, first_task = _run(api)
            rounds.append({"commit": commit, "commit_to_version_s": round(versioned - pushed, 1),
                           "commit_to_first_task_s": round(first_task - pushed, 1)})  # fmt: skip
            prepare_cold.append(_prepare_ms(api, run_id, "first"))
            prepare_warm.append(_prepare_ms(api, run_id, "second"))
        versions_dir = state / "airflow" / "dag_bundles" / "dags" / "versions"
        per_version = {p.name[:8]: _size(p) for p in sorted(versions_dir.iterdir())} if versions_dir.exists() else {}
        bare_clone = _size(state / "airflow" / "dag_bundles" / "dags" / "bare")
    finally:
        api.close()
        _cli("local", "down", "--purge", "--state-dir", str(state))
    return {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "refresh_interval_s": refresh_interval,
        "local_up_s": round(up_seconds, 1),
        "rounds": rounds,
        "commit_to_first_task_s_median": statistics.median(r["commit_to_first_task_s"] for r in rounds),
        "commit_to_first_task_s_max": max(r["commit_to_first_task_s"] for r in rounds),
        "bundle_prepare_ms_first_task_of_a_version": prepare_cold,
        "bundle_prepare_ms_later_tasks": prepare_warm,
        "dags_folder_prepare_ms": round(_dags_folder_prepare_ms(tmp), 1),
        "checkout_bytes_per_version": per_version,
        "bare_clone_bytes": bare_clone,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=3)
    parser.add_argument("--refresh-interval", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = bench(args.commits, args.refresh_interval)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
