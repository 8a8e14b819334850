"""Run a probe script in a fresh interpreter with Airflow configured from scratch (Airflow reads its config once per
process): a temporary AIRFLOW_HOME with a SQLite database, none of this shell's AIRFLOW* variables, the extra ones
given. The probe prints JSON as its last line of output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_probe(home: Path, probe: str, *args: str, timeout: float = 300, **env: str) -> dict:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    clean |= {"AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db", **env}
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], env=clean, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
