"""Install image/requirements.txt under Airflow's constraints: `python constrained_install.py CONSTRAINTS REQUIREMENTS`.

CONSTRAINTS is the constraints file the base image was built with (`${HOME}/constraints.txt` in apache/airflow,
Airflow's `constraints-<version>/constraints-<python>.txt` for the image's own Python): every dependency Airflow
brings is held at the version Airflow's release was tested with. The packages requirements.txt pins itself (the
providers and celery, pinned like pyproject.toml's `local` extra) are left out of it, so that our pins, the ones
the local cluster and the tests run, win instead of conflicting. `apache-airflow==$AIRFLOW_VERSION` is installed
with them, so pip can never change Airflow itself. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 normalisation: `Apache_Airflow.Providers` and `apache-airflow-providers` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names(requirements: str) -> set[str]:
    """The (normalised) names requirements.txt pins, comments and blank lines ignored."""
    names = set()
    for line in requirements.splitlines():
        match = _NAME.match(line.split("#", 1)[0])
        if match:
            names.add(canonical(match[1]))
    return names


def without(constraints: str, names: set[str]) -> str:
    """The constraints minus the lines for `names`; comments and every other pin kept as they are."""
    kept = []
    for line in constraints.splitlines():
        match = _NAME.match(line.split("#", 1)[0])
        if match and canonical(match[1]) in names:
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def main(argv: list[str]) -> int:
    constraints_file, requirements_file = Path(argv[1]), Path(argv[2])
    requirements = requirements_file.read_text()
    filtered = without(constraints_file.read_text(), pinned_names(requirements))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(filtered)
    airflow = f"apache-airflow=={os.environ['AIRFLOW_VERSION']}"
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir", airflow, "-r", str(requirements_file),
               "--constraint", handle.name]  # fmt: skip
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
