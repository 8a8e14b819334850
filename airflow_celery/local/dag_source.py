"""`local up --dags-git PATH_OR_URL [--dags-ref REF]` or `--dags-s3 BUCKET[/PREFIX] --dags-s3-endpoint URL`.

git: the same GitDagBundle as on AWS, against any repository. A local bare repository is enough (`git init
--bare`, then push to it): git reads it by path, no server. The repository and the ref are checked with `git
ls-remote` before anything starts, so a typo is one clear error rather than a dag-processor that parses nothing.

s3: the versioned S3 bundle (airflow_celery/bundles/s3.py) against an S3-compatible server, e.g. moto's
(`.venv/bin/moto_server -H 127.0.0.1 -p 5000`). Before anything starts, the bucket is created if missing and, if
it holds no version yet, the `--dags-dir` folder is validated and pushed as the first one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from airflow_celery.cluster.dag_source import GIT, IMAGE, LOCAL_S3_REGION, DagSource, DagSourceError, dag_source
from airflow_celery.local.errors import LocalError

LS_REMOTE_TIMEOUT = 30
OPTION_NAMES = {
    "kind": "--dags-git",
    "repo_url": "--dags-git",
    "ref": "--dags-ref",
    "subdir": "--dags-subdir",
    "refresh_interval": "--dags-refresh-interval",
}


def local_dag_source(
    repo: str | None,
    ref: str | None,
    subdir: str | None,
    refresh_interval: int | None,
    s3: str | None = None,
    s3_endpoint: str | None = None,
) -> DagSource:
    """The DAG source `local up` was given: git with `--dags-git`, s3 with `--dags-s3`, else the `--dags-dir`
    folder."""
    if s3 is not None or s3_endpoint is not None:
        return _s3_source(repo, ref, subdir, refresh_interval, s3, s3_endpoint)
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
        reason = (result.stderr.strip().splitlines() or ["git ls-remote failed"])[0]
        raise LocalError(f"--dags-git={source.repo_url} is not a git repository git can read: {reason}")


S3_OPTION_NAMES = {
    "kind": "--dags-s3",
    "bucket": "--dags-s3",
    "prefix": "--dags-s3",
    "endpoint_url": "--dags-s3-endpoint",
    "refresh_interval": "--dags-refresh-interval",
}


def _s3_source(
    repo: str | None,
    ref: str | None,
    subdir: str | None,
    refresh_interval: int | None,
    s3: str | None,
    endpoint: str | None,
) -> DagSource:
    for option, value in (("--dags-git", repo), ("--dags-ref", ref), ("--dags-subdir", subdir)):
        if value is not None:
            raise LocalError(f"{option}={value!r} is for a git source; --dags-s3 takes the DAGs from a bucket")
    if s3 is None or endpoint is None:
        raise LocalError(
            "--dags-s3 BUCKET[/PREFIX] and --dags-s3-endpoint URL go together: the S3-compatible server to use, e.g. "
            "moto's (.venv/bin/moto_server -H 127.0.0.1 -p 5000 and --dags-s3-endpoint http://127.0.0.1:5000)"
        )
    bucket, _, prefix = s3.removeprefix("s3://").partition("/")
    try:
        return dag_source(
            "s3", refresh_interval=refresh_interval, keys=S3_OPTION_NAMES, bucket=bucket,
            prefix=f"{prefix.rstrip('/')}/" if prefix else None, endpoint_url=endpoint,
        )  # fmt: skip
    except DagSourceError as error:
        raise LocalError(f"{error.key}={error.value!r}: allowed: {error.allowed}") from None


def s3_client(source: DagSource):
    """A client of the local S3-compatible server, with the placeholder keys such a server accepts."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=source.endpoint_url, region_name=LOCAL_S3_REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip


def prepare_s3(source: DagSource, dags_dir: Path, say) -> str:
    """Make sure the bucket exists and holds a version (pushing `dags_dir` as the first); the current version."""
    from botocore.exceptions import BotoCoreError, ClientError

    from airflow_celery.bundles.layout import pointer_key
    from airflow_celery.bundles.push import PushError, push

    assert source.bucket is not None and source.endpoint_url is not None
    client = s3_client(source)
    try:
        try:
            client.head_bucket(Bucket=source.bucket)
        except ClientError:
            client.create_bucket(Bucket=source.bucket)
            say(f"created bucket {source.bucket} at {source.endpoint_url}")
        try:
            return client.get_object(Bucket=source.bucket, Key=pointer_key(source.prefix))["Body"].read().decode()
        except client.exceptions.NoSuchKey:
            pass
    except (BotoCoreError, ClientError) as error:
        raise LocalError(f"--dags-s3-endpoint={source.endpoint_url}: the S3 server did not answer ({error})") from None
    if not dags_dir.is_dir():
        raise LocalError(f"--dags-dir={dags_dir} is not a folder, and the bucket holds no DAGs yet to start from")
    try:
        version, _ = push(dags_dir, client, source.bucket, source.prefix)
    except PushError as error:
        raise LocalError(f"--dags-dir={dags_dir}: {error}") from None
    say(f"pushed {dags_dir} as the first version: {version}")
    return version
