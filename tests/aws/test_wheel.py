"""The package as a user gets it: build the wheel, install it into a fresh venv, import the component."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def find_uv() -> Path:
    """uv beside the Python running the tests: `make venv` installs it into .venv/bin, which is not on PATH
    under `make test` or CI. PATH is the fallback; without uv the test fails, it never skips."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return beside
    found = shutil.which("uv")
    assert found is not None, f"uv is neither beside {sys.executable} nor on PATH: run `make venv`"
    return Path(found)


UV = find_uv()


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

    # migration_runner.py is read from the installed package and shipped as the migrate step's Lambda code.
    for module in (
        "airflow_celery/aws/component.py",
        "airflow_celery/aws/args.py",
        "airflow_celery/cluster/roles.py",
        "airflow_celery/aws/migration_runner.py",
    ):
        assert module in names
    assert not [name for name in names if name.startswith("tests/")]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The Python of a fresh venv with only the wheel (and its dependencies) installed."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run(UV, "venv", "--quiet", "--python", "3.11", venv)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", python, wheel)
    return python


@pytest.fixture(scope="module")
def probed(installed, tmp_path_factory) -> tuple[str, str]:
    """What the fresh venv imports from, and the schema it infers (one interpreter: importing pulumi_aws
    without bytecode takes seconds)."""
    probe = (
        "import airflow_celery, pulumi\n"
        "from airflow_celery import AirflowCeleryCluster, ConfigError\n"
        "from airflow_celery.aws.config import args_from_config\n"
        "from airflow_celery.aws.provider import schema_text\n"
        "assert issubclass(AirflowCeleryCluster, pulumi.ComponentResource)\n"
        "print(airflow_celery.__file__)\n"
        "print(schema_text(), end='')\n"
    )
    location, _, schema = run(installed, "-c", probe, cwd=tmp_path_factory.mktemp("elsewhere")).partition("\n")
    return location, schema


def test_fresh_venv_imports_the_component_from_the_wheel(installed, probed):
    location, _ = probed

    assert location.startswith(str(installed.parents[1])), f"imported from {location}, not from the wheel"


def test_fresh_venv_infers_the_committed_schema(probed):
    """The installed package still has the source the schema's descriptions are read from (analyzer.py reads
    docstrings with inspect.getsource), and infers exactly schema.json."""
    _, schema = probed

    assert schema == (ROOT / "schema.json").read_text()
