"""The package as a user gets it: build the wheel, install it into a fresh venv, import the component."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")
pytestmark = [pytest.mark.skipif(UV is None, reason="uv is not installed"), pytest.mark.timeout(120)]


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources, so the build leaves nothing behind in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "airflow_celery", source / "airflow_celery", ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, source)
    (built,) = out.glob("airflow_celery-*.whl")
    return built


def test_wheel_holds_the_package_and_not_the_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()

    for module in ("airflow_celery/aws/component.py", "airflow_celery/aws/args.py", "airflow_celery/cluster/roles.py"):
        assert module in names
    assert not [name for name in names if name.startswith("tests/")]


def test_fresh_venv_imports_the_component_from_the_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", "3.11", venv)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", python, wheel)

    probe = (
        "import airflow_celery, pulumi\n"
        "from airflow_celery import AirflowCeleryCluster, ConfigError\n"
        "from airflow_celery.aws.config import args_from_config\n"
        "assert issubclass(AirflowCeleryCluster, pulumi.ComponentResource)\n"
        "print(airflow_celery.__file__)\n"
    )
    location = run(python, "-c", probe, cwd=tmp_path).strip()

    assert location.startswith(str(venv)), f"imported from {location}, not from the wheel"
