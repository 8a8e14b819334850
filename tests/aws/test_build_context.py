"""The image's build context is the provider's own, wherever the program runs (aws/build_context.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from airflow_celery.aws import build_context
from airflow_celery.aws.args import ConfigError, resolve_args
from tests.aws import harness
from tests.image.test_dockerfile import copies

REPO = Path(__file__).resolve().parents[2]
DOCKER_IMAGE = "docker:index/image:Image"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The program runs in a folder of its own, as Pulumi runs the provider plugin in the caller's directory."""
    program = tmp_path / "consumer"
    program.mkdir()
    monkeypatch.chdir(program)
    monkeypatch.setattr(build_context, "STAGING_ROOT", tmp_path / "staging")
    return program


def _staged(mocks) -> Path:
    build = mocks.one(DOCKER_IMAGE).inputs["build"]
    context = Path(build["context"])
    assert Path(build["dockerfile"]) == context / "image" / "Dockerfile"
    return context


def _has_everything_the_dockerfile_copies(context: Path) -> None:
    for copy in copies():
        for source in copy.sources:
            assert (context / source).exists(), f"the staged context lacks {source}"


def test_from_another_directory_the_default_context_is_the_packages_project(elsewhere):
    context = _staged(harness.build_component("away"))
    assert not str(context).startswith(str(elsewhere))
    _has_everything_the_dockerfile_copies(context)
    assert (context / "dags" / "celery_parallel_demo.py").read_bytes() == (
        REPO / "dags/celery_parallel_demo.py"
    ).read_bytes()
    assert (context / "airflow_celery/entrypoint/start.py").read_bytes() == (
        REPO / "airflow_celery/entrypoint/start.py"
    ).read_bytes()


def test_a_folder_with_only_dags_is_enough(elsewhere):
    (elsewhere / "dags").mkdir()
    (elsewhere / "dags" / "mine.py").write_text("# my DAG\n")
    context = _staged(harness.build_component("mine", {"build_context": "."}))
    _has_everything_the_dockerfile_copies(context)
    assert sorted(p.name for p in (context / "dags").iterdir()) == ["mine.py"]
    assert (context / "image/Dockerfile").read_bytes() == (REPO / "image/Dockerfile").read_bytes()


def test_a_folder_with_its_own_image_dir_builds_its_own_dockerfile(elsewhere):
    shutil.copytree(REPO / "image", elsewhere / "image")
    (elsewhere / "image" / "Dockerfile").write_text((REPO / "image/Dockerfile").read_text() + "# mine\n")
    shutil.copytree(REPO / "dags", elsewhere / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    context = _staged(harness.build_component("own", {"build_context": str(elsewhere)}))
    assert (context / "image/Dockerfile").read_text().endswith("# mine\n")


def test_the_same_content_stages_to_the_same_path_and_a_change_to_a_new_one(elsewhere):
    (elsewhere / "dags").mkdir()
    (elsewhere / "dags" / "a.py").write_text("a = 1\n")
    first = build_context.stage(build_context.sources("."), build_context.STAGING_ROOT)
    assert build_context.stage(build_context.sources("."), build_context.STAGING_ROOT) == first
    (elsewhere / "dags" / "a.py").write_text("a = 2\n")
    assert build_context.stage(build_context.sources("."), build_context.STAGING_ROOT) != first


def test_a_folder_without_dags_is_refused_naming_the_key(elsewhere):
    with pytest.raises(ConfigError) as caught:
        resolve_args("x", {"build_context": "."})
    assert caught.value.key == "build_context"
    assert f"missing: {elsewhere / 'dags'}" in str(caught.value)


def test_a_dockerfile_outside_image_is_refused(elsewhere):
    with pytest.raises(ConfigError, match=r"dockerfile='Dockerfile' .*a path under image/"):
        resolve_args("x", {"dockerfile": "Dockerfile"})


def test_the_staged_package_files_are_what_the_dockerfile_copies():
    copied = sorted(s for c in copies() for s in c.sources if s.startswith("airflow_celery"))
    assert copied == sorted(
        f"airflow_celery/{name}" + ("/" if "." not in name else "") for name in build_context.PACKAGE_FILES
    )


def test_a_pushed_image_needs_no_context(elsewhere):
    assert resolve_args("x", {"image": "registry.example.com/a@sha256:" + "ab" * 32, "build_context": "."}).image
    assert os.getcwd() == str(elsewhere)
