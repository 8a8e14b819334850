"""The DAG source on AWS: the `dag_*` component arguments, the git credential's secret and who may read it.

The description (cluster/dag_source.py) says what every role's environment holds; this module only adds what is
AWS's: the arguments' names, the Secrets Manager secret that carries the git credential as an Airflow connection
(an ECS `secrets` entry, so its value never appears in a task definition), and the execution-role grant to read
it, given to the roles that fetch (the dag-processor and the workers) and no other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_celery.cluster.dag_source import GIT_CONN_VAR, DagSource, dag_source, fetches_dags

ARG_NAMES = {
    "kind": "dag_source",
    "repo_url": "dag_repo_url",
    "ref": "dag_ref",
    "subdir": "dag_subdir",
    "refresh_interval": "dag_refresh_interval",
    "credential": "dag_git_secret_arn",
    "bucket": "dag_bucket",
    "prefix": "dag_prefix",
}
PLACEHOLDER_BUCKET = "created-by-the-component"
"""Stands for the bucket the component creates (its name is known once created) while the arguments are checked."""
"""The description's setting -> the component argument that carries it (errors name the argument)."""

SECRET_ARN = re.compile(r"arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+")


class DagArgError(ValueError):
    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: allowed: {allowed}")


def dag_source_of(values: Mapping[str, Any]) -> DagSource:
    """The validated DAG source of a component's arguments (or of a ResolvedArgs's fields)."""
    arn = values.get("dag_git_secret_arn")
    if arn is not None and not (isinstance(arn, str) and SECRET_ARN.fullmatch(arn)):
        allowed = "the ARN of a Secrets Manager secret, arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"
        raise DagArgError("dag_git_secret_arn", arn, allowed)
    from airflow_celery.cluster.dag_source import DagSourceError

    try:
        return dag_source(
            values.get("dag_source") or "image",
            values.get("dag_repo_url"),
            values.get("dag_ref"),
            values.get("dag_subdir"),
            values.get("dag_refresh_interval"),
            has_credential=arn is not None,
            keys=ARG_NAMES,
            bucket=_bucket_of(values),
            prefix=values.get("dag_prefix"),
        )
    except DagSourceError as error:
        raise DagArgError(error.key, error.value, error.allowed) from None


def credential_secret(role_name: str, secret_arn: str | None) -> list[dict[str, str]]:
    """The container `secrets` entry that puts the git connection in the environment, for the roles that fetch."""
    if secret_arn is None or not fetches_dags(role_name):
        return []
    return [{"name": GIT_CONN_VAR, "valueFrom": secret_arn}]


def credential_roles(secret_arn: str | None) -> tuple[str, ...]:
    """The roles whose execution role may read the credential's secret."""
    from airflow_celery.cluster.dag_source import FETCHING_ROLES

    return FETCHING_ROLES if secret_arn else ()


def connection_example(repo_url: str) -> str:
    """What the secret holds: an Airflow connection as JSON, read by Airflow from AIRFLOW_CONN_DAGS_GIT."""
    return json.dumps({"conn_type": "git", "host": repo_url, "login": "x-access-token", "password": "<token>"})


def dag_source_grants(secret_arn: str | None) -> dict[str, list[str]]:
    """Role name -> the secret ARNs its execution role reads for the DAG source (for iam.execution_roles)."""
    return {role_name: [secret_arn] for role_name in credential_roles(secret_arn)} if secret_arn else {}


def _bucket_of(values: Mapping[str, Any]) -> str | None:
    if values.get("dag_source") != "s3":
        return values.get("dag_bucket")
    return values.get("dag_bucket") or PLACEHOLDER_BUCKET


READING_ROLES = ("dag-processor", "worker")
"""The roles whose task role may read the DAG prefix (the s3 source): the same as FETCHING_ROLES."""


def read_dags_policy(bucket: str, prefix: str) -> str:
    """Read-only on the DAG prefix: get the archives and the pointer, and list only under the prefix (so that a
    missing key is a 404 NoSuchKey, not a 403)."""
    partition_arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{partition_arn}/{prefix}*"]},
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": [partition_arn],
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                },
            ],
        }
    )


def dag_bucket(ctx, config) -> Any:
    """The bucket `dags push` writes to: the one given (`dag_bucket`), or a private, encrypted, TLS-only one the
    component creates. Returns its name (an Output when created)."""
    import pulumi_aws as aws

    from airflow_celery.aws.logs import tls_only_policy

    if config.dag_bucket:
        return config.dag_bucket
    bucket = aws.s3.Bucket(
        ctx.child_name("dags"), force_destroy=config.ecr_force_delete, tags=ctx.tags("dags"), opts=ctx.opts()
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        ctx.child_name("dags-public-access"), bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=ctx.opts(),
    )  # fmt: skip
    sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
    aws.s3.BucketServerSideEncryptionConfiguration(
        ctx.child_name("dags-encryption"),
        bucket=bucket.id,
        rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=sse(sse_algorithm="AES256"), bucket_key_enabled=True)],
        opts=ctx.opts(),
    )  # fmt: skip
    aws.s3.BucketPolicy(
        ctx.child_name("dags-tls-only"),
        bucket=bucket.id,
        policy=bucket.arn.apply(tls_only_policy),
        opts=ctx.opts(depends_on=[public_access]),
    )
    return bucket.bucket


def grant_read(ctx, roles: Mapping[str, Any], bucket_name: Any, prefix: str) -> None:
    """Read-only on the DAG prefix for the task roles of the roles that read it, and no other."""
    import pulumi
    import pulumi_aws as aws

    for role_name in READING_ROLES:
        aws.iam.RolePolicy(
            ctx.child_name(role_name, "task-role-dags"),
            role=roles[role_name].id,
            policy=pulumi.Output.from_input(bucket_name).apply(lambda name: read_dags_policy(name, prefix)),
            opts=ctx.opts(),
        )
