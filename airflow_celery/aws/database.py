"""The metadata database: RDS PostgreSQL in the private subnets, encrypted, backed up, never public."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import POSTGRES
from airflow_celery.cluster.secrets import DatabaseEndpoint

# Database name and user of the metadata DB: the same defaults compose_secrets builds the URLs with.
_DEFAULTS = DatabaseEndpoint(host="")
DB_PORT = POSTGRES.port("postgres").number


def database(
    ctx: BuildContext,
    private_subnet_ids: list[pulumi.Input[str]],
    security_group: aws.ec2.SecurityGroup,
    password: pulumi.Output[str],
) -> aws.rds.Instance:
    config = ctx.config
    subnets = aws.rds.SubnetGroup(
        ctx.child_name("db-subnets"),
        subnet_ids=private_subnet_ids,
        description=f"airflow-celery {ctx.name}: private subnets of the metadata database",
        tags=ctx.tags("db-subnets"),
        opts=ctx.opts(),
    )
    return aws.rds.Instance(
        ctx.child_name("db"),
        engine="postgres",
        engine_version=config.db_engine_version,
        instance_class=config.db_instance_class,
        allocated_storage=config.db_allocated_storage,
        db_name=_DEFAULTS.name,
        username=_DEFAULTS.user,
        password=password,
        port=DB_PORT,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[security_group.id],
        publicly_accessible=False,
        storage_encrypted=True,
        backup_retention_period=config.db_backup_retention_days,
        multi_az=config.db_multi_az,
        deletion_protection=config.db_deletion_protection,
        skip_final_snapshot=config.db_skip_final_snapshot,
        final_snapshot_identifier=None if config.db_skip_final_snapshot else _final_snapshot_name(ctx),
        copy_tags_to_snapshot=True,
        auto_minor_version_upgrade=True,
        # dbEngineVersion 16 -> 17 is refused without it; when it happens is apply_immediately's choice.
        allow_major_version_upgrade=True,
        apply_immediately=config.apply_immediately,
        tags=ctx.tags("db"),
        opts=ctx.opts(),
    )


def _final_snapshot_name(ctx: BuildContext) -> pulumi.Output[str]:
    """A unique name: a fixed one fails the second deletion (DBSnapshotAlreadyExists), leaving the DB behind."""
    suffix = random.RandomId(ctx.child_name("db-final-snapshot-id"), byte_length=4, opts=ctx.opts())
    return pulumi.Output.concat(ctx.child_name("db-final-"), suffix.hex)


def endpoint(instance: aws.rds.Instance) -> pulumi.Output[DatabaseEndpoint]:
    """Where Airflow reaches the database; RDS requires TLS here (sslmode=require)."""
    return instance.address.apply(
        lambda host: DatabaseEndpoint(
            host=host, port=DB_PORT, name=_DEFAULTS.name, user=_DEFAULTS.user, sslmode="require"
        )
    )
