"""`local up`'s DAG source options, checked before anything starts (a real git repository, no cluster)."""

from __future__ import annotations

import subprocess

import pytest

from airflow_celery.local.dag_source import local_dag_source
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import validate_up_options
from airflow_celery.local.state import StatePaths, load_options, save_options


@pytest.fixture
def bare(tmp_path):
    repo, work = tmp_path / "dags.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch", "main", str(repo)], check=True)
    subprocess.run(["git", "init", "-q", "--initial-branch", "main", str(work)], check=True)
    (work / "a.py").write_text("")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    subprocess.run([*git, "push", "-q", str(repo), "main"], check=True)
    return repo


def test_no_git_and_no_s3_is_the_dags_dir(tmp_path):
    assert local_dag_source(None, None, None, None).kind == "image"


def test_a_bare_repository_and_its_branch(bare):
    source = local_dag_source(str(bare), "main", "dags", 5)
    assert (source.kind, source.repo_url, source.ref, source.subdir, source.refresh_interval) == (
        "git",
        str(bare),
        "main",
        "dags",
        5,
    )


def test_a_missing_branch_is_named(bare):
    with pytest.raises(LocalError, match="--dags-ref='release': no such branch or tag"):
        local_dag_source(str(bare), "release", None, None)


def test_not_a_repository_is_named(tmp_path):
    with pytest.raises(LocalError, match=r"--dags-git=.*is not a git repository git can read: fatal"):
        local_dag_source(str(tmp_path), None, None, None)


def test_git_options_without_dags_git_are_refused():
    with pytest.raises(LocalError, match="--dags-subdir='dags' needs --dags-git"):
        local_dag_source(None, None, "dags", None)


def test_s3_needs_its_endpoint_and_a_valid_bucket():
    with pytest.raises(LocalError, match="go together"):
        local_dag_source(None, None, None, None, "dags-bucket", None)
    with pytest.raises(LocalError, match="--dags-s3='Bad_Bucket'"):
        local_dag_source(None, None, None, None, "Bad_Bucket", "http://127.0.0.1:5000")
    source = local_dag_source(None, None, None, 10, "s3://dags-bucket/team/a", "http://127.0.0.1:5000")
    assert (source.kind, source.bucket, source.prefix, source.refresh_interval) == ("s3", "dags-bucket", "team/a/", 10)


def test_the_source_is_recorded_in_the_state_dir(tmp_path, bare):
    source = local_dag_source(str(bare), "main", None, 5)
    options = validate_up_options(1, 2, tmp_path / "state", tmp_path / "missing-dags-dir", dag_source=source)
    paths = StatePaths(options.state_dir)
    paths.root.mkdir(parents=True)
    save_options(paths, options, "host")
    assert load_options(paths)[0].dag_source == source
