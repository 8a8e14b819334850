"""`airflow-celery dags push STACK` for a stack on AWS: where the stack keeps its DAGs, then the push itself.

The prefix and a given bucket come from the stack's config, read offline as `pulumi up` reads it (plan/stack.py);
a bucket the component created is named by the stack's `dagBucket` output (`pulumi stack output`). The upload
uses boto3's usual credentials (AWS_PROFILE, ...): the caller's, never a role of the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from airflow_celery.local.errors import LocalError


@dataclass(frozen=True)
class StackDags:
    bucket: str
    prefix: str
    refresh_interval: int


def stack_dags(project_dir: Path, stack: str) -> StackDags:
    from airflow_celery.aws.args import ConfigError
    from airflow_celery.plan import PlanError
    from airflow_celery.plan.stack import read_stack

    try:
        config = read_stack(project_dir, stack).config
    except (ConfigError, PlanError) as error:
        raise LocalError(str(error)) from None
    if config.dag_source != "s3":
        raise LocalError(
            f"stack {stack!r} reads its DAGs from {config.dag_source!r}, not s3: set dagSource to s3 (and `pulumi up`) "
            "to push DAGs; with git, a commit is the push"
        )
    bucket = config.dag_bucket or stack_output(project_dir, stack, "dagBucket")
    return StackDags(bucket, config.dag_prefix, config.dag_refresh_interval)


def stack_output(project_dir: Path, stack: str, name: str) -> str:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise LocalError(f"the Pulumi CLI is needed to read stack {stack!r}'s {name} output (its created bucket)")
    result = subprocess.run(
        [pulumi, "stack", "output", "--json", "--stack", stack],
        cwd=project_dir, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise LocalError(f"`pulumi stack output --stack {stack}` failed: {result.stderr.strip()[-500:]}")
    value = json.loads(result.stdout or "{}").get(name)
    if not value:
        raise LocalError(f"stack {stack!r} has no {name} output yet: run `pulumi up -s {stack}` with dagSource s3")
    return value
