"""The cluster's secrets: generated with pulumi-random, composed in a pure transform, stored in Secrets Manager."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.env import secret_names_used
from airflow_celery.cluster.secrets import (
    COMPOSED,
    FERNET_KEY_BYTES,
    GENERATED_LENGTHS,
    BrokerEndpoint,
    DatabaseEndpoint,
    SecretName,
    compose_secrets,
    fernet_key_from_bytes,
)


@dataclass(frozen=True)
class StoredSecrets:
    arns: dict[SecretName, pulumi.Output[str]]
    """Secret name -> Secrets Manager ARN, for every secret some role reads."""
    versions: list[aws.secretsmanager.SecretVersion]
    """Tasks must not start before the values exist: task definitions depend on these."""
    version_ids: dict[SecretName, pulumi.Output[str]]
    """Secret name -> the version id of its current value: a new value gets a new id."""


def generate(ctx: BuildContext) -> dict[SecretName, pulumi.Output[str]]:
    """Every generated secret as a secret Output (fernet key from 32 random bytes, the rest alphanumeric)."""
    fernet_bytes = random.RandomBytes(ctx.child_name(SecretName.FERNET_KEY), length=FERNET_KEY_BYTES, opts=ctx.opts())
    values = {SecretName.FERNET_KEY: pulumi.Output.secret(fernet_bytes.base64.apply(_fernet_key))}
    for name, length in GENERATED_LENGTHS.items():
        password = random.RandomPassword(ctx.child_name(name), length=length, special=False, opts=ctx.opts())
        values[name] = pulumi.Output.secret(password.result)
    return values


def _fernet_key(standard_base64: str) -> str:
    return fernet_key_from_bytes(base64.b64decode(standard_base64))


def compose(
    generated: dict[SecretName, pulumi.Output[str]],
    database: pulumi.Output[DatabaseEndpoint],
    broker: pulumi.Output[BrokerEndpoint],
    admin_username: str,
) -> dict[SecretName, pulumi.Output[str]]:
    """The URL-shaped secrets, from the generated values and the endpoints (a pure transform, no resources)."""
    names = list(generated)
    composed = pulumi.Output.all(database, broker, *(generated[name] for name in names)).apply(
        lambda values: compose_secrets(dict(zip(names, values[2:], strict=True)), values[0], values[1], admin_username)
    )
    return {name: pulumi.Output.secret(composed.apply(lambda found, key=name: found[key])) for name in COMPOSED}


def store(ctx: BuildContext, values: dict[SecretName, pulumi.Output[str]]) -> StoredSecrets:
    """One Secrets Manager secret per secret some role reads; nothing else is stored."""
    arns, versions, version_ids = {}, [], {}
    for name in sorted(secret_names_used()):
        secret = aws.secretsmanager.Secret(
            ctx.child_name(name),
            description=f"airflow-celery {ctx.name}: {name}",
            tags=ctx.tags(name),
            opts=ctx.opts(),
        )
        version = aws.secretsmanager.SecretVersion(
            ctx.child_name(name, "value"),
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(values[name]),
            opts=ctx.opts(),
        )
        versions.append(version)
        version_ids[name] = version.version_id
        arns[name] = secret.arn
    return StoredSecrets(arns=arns, versions=versions, version_ids=version_ids)
