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
}
"""The description's setting -> the component argument that carries it (errors name the argument)."""

SECRET_ARN = re.compile(r"arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+")


class DagArgError(ValueError):
    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r}: allowed: {allowed}")


def dag_source_of(values: Mapping[str, Any]) -> DagSource:
    """The validated DAG source of a component's arguments (or of a ClusterConfig's fields)."""
    if values.get("dag_source") == "s3":
        allowed = "image or git: the s3 source runs locally (local up --dags-s3) but has no bucket or IAM on AWS yet"
        raise DagArgError("dag_source", "s3", allowed)
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
