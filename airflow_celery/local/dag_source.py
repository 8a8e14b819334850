"""`local up --dags-git PATH_OR_URL [--dags-ref REF]`: the same GitDagBundle as on AWS, against any repository.

A local bare repository is enough (`git init --bare`, then push to it): git reads it by path, no server. The
repository and the ref are checked with `git ls-remote` before anything starts, so a typo is one clear error
rather than a dag-processor that parses nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from airflow_celery.cluster.dag_source import GIT, IMAGE, DagSource, DagSourceError, dag_source
from airflow_celery.local.errors import LocalError

LS_REMOTE_TIMEOUT = 30
OPTION_NAMES = {
    "kind": "--dags-git",
    "repo_url": "--dags-git",
    "ref": "--dags-ref",
    "subdir": "--dags-subdir",
    "refresh_interval": "--dags-refresh-interval",
}


def local_dag_source(repo: str | None, ref: str | None, subdir: str | None, refresh_interval: int | None) -> DagSource:
    """The DAG source `local up` was given: git when `--dags-git` is, the `--dags-dir` folder otherwise."""
    if repo is None:
        for option, value in (
            ("--dags-ref", ref),
            ("--dags-subdir", subdir),
            ("--dags-refresh-interval", refresh_interval),
        ):
            if value is not None:
                raise LocalError(f"{option}={value!r} needs --dags-git PATH_OR_URL; without it DAGs come from "
                                 "--dags-dir")  # fmt: skip
        return DagSource(IMAGE)
    if "://" not in repo and not repo.startswith("git@"):
        repo = str(Path(repo).expanduser().absolute())
    try:
        source = dag_source(GIT, repo, ref, subdir, refresh_interval, keys=OPTION_NAMES)
    except DagSourceError as error:
        raise LocalError(f"{error.key}={error.value!r}: allowed: {error.allowed}") from None
    _check_reachable(source)
    return source


def _check_reachable(source: DagSource) -> None:
    """The repository answers and has the branch or tag (`git ls-remote --exit-code`)."""
    git = shutil.which("git")
    if git is None:
        raise LocalError("--dags-git needs the git command (GitDagBundle runs it); install git")
    assert source.repo_url is not None
    try:
        result = subprocess.run(
            [git, "ls-remote", "--exit-code", source.repo_url, source.ref],
            capture_output=True,
            text=True,
            timeout=LS_REMOTE_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except subprocess.TimeoutExpired:
        raise LocalError(f"--dags-git={source.repo_url}: no answer within {LS_REMOTE_TIMEOUT} s") from None
    if result.returncode == 2:
        raise LocalError(
            f"--dags-ref={source.ref!r}: no such branch or tag in {source.repo_url}; push it first, or name another"
        )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["git ls-remote failed"])[-1]
        raise LocalError(f"--dags-git={source.repo_url} is not a git repository git can read: {reason}")
