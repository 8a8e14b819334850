"""bench/dags: every DAG file the benchmarks copy parses in Airflow's DagBag, with the shape the scripts expect
(a sleep DAG's tasks and seconds from its file name). Airflow runs in a subprocess with its own AIRFLOW_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bench.local_cluster import BenchCluster

pytestmark = pytest.mark.airflow

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"errors": {k: v[-300:] for k, v in bag.import_errors.items()},
                  "dags": {d.dag_id: {"tasks": len(d.tasks), "max_active_tasks": d.max_active_tasks}
                           for d in bag.dags.values()}}))
"""


def _parse(dags: Path, home: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", PARSE, str(dags)], env=env, capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_every_bench_dag_parses_with_the_shape_its_script_expects(tmp_path):
    with BenchCluster("acbench-test-", Console(quiet=True)) as bench:
        bench.add_sleep_dag("bench_40x5")
        bench.add_sleep_dag("bench_capacity_32x45")
        bench.add_sleep_dag("latency_200x1")
        for name in ("faults", "rollout_load", "upgrade_probe"):
            bench.add_bench_dag(name)
        (bench.dags / "VERSION").write_text("v1\n")
        found = _parse(bench.dags, tmp_path)

    assert found["errors"] == {}
    dags = found["dags"]
    assert dags["bench_40x5"] == {"tasks": 40, "max_active_tasks": 40}
    assert dags["bench_capacity_32x45"] == {"tasks": 32, "max_active_tasks": 32}
    assert dags["latency_200x1"] == {"tasks": 200, "max_active_tasks": 200}
    assert {k: v["tasks"] for k, v in dags.items() if k.startswith("faults_")} == {
        "faults_tasks": 16, "faults_wide": 32, "faults_burst": 200, "faults_memory": 7, "faults_starting": 3,
    }  # fmt: skip
    assert dags["rollout_short"]["tasks"] == dags["rollout_long"]["tasks"] == 1
    assert dags["upgrade_probe"]["tasks"] == 1


def test_a_sleep_dag_named_without_its_shape_is_refused():
    with BenchCluster("acbench-test-", Console(quiet=True)) as bench, pytest.raises(ValueError, match="bench_40x5"):
        bench.add_sleep_dag("bench")
    assert not bench.root.exists()
