"""The metadata database: RDS PostgreSQL in the private subnets, encrypted, backed up, never public.

gp3 storage (the gp2 price, with a 3000 IOPS baseline that does not depend on the size) that RDS grows by itself
up to `db_max_allocated_storage`; Performance Insights on its free tier (7 days of history, where the class
supports it); the server log and the upgrade log exported to CloudWatch Logs.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import POSTGRES
from airflow_celery.cluster.secrets import DatabaseEndpoint

# Database name and user of the metadata DB: the same defaults compose_secrets builds the URLs with.
_DEFAULTS = DatabaseEndpoint(host="")
DB_PORT = POSTGRES.port("postgres").number


VERIFY_FULL = "verify-full"
RDS_CA_BUNDLE = "/opt/airflow-celery/rds-global-bundle.pem"
"""Where image/Dockerfile puts AWS's RDS CA bundle (every RDS CA of every region,
https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem); tests/image checks the two agree."""
STORAGE_TYPE = "gp3"
PERFORMANCE_INSIGHTS_FREE_DAYS = 7
"""The free tier of Performance Insights (Database Insights Standard): 7 days of history."""
NO_PERFORMANCE_INSIGHTS = frozenset({"db.t3.micro", "db.t3.small", "db.t4g.micro", "db.t4g.small"})
"""Classes Database Insights (Performance Insights) does not support on RDS: docs.aws.amazon.com/AmazonRDS/latest/
UserGuide/USER_DatabaseInsights.Engines.html (instance class restrictions; db.t2 is not an option here)."""
LOG_EXPORTS = ("postgresql", "upgrade")
"""The log types RDS for PostgreSQL publishes to CloudWatch Logs (AWS docs, USER_LogAccess.Concepts.PostgreSQL:
"postgresql" and "upgrade"); the provider checks the names against its own list (rds instance schema)."""
STORAGE_GROWTH = 4
"""Storage autoscaling may grow the disk to this multiple of db_allocated_storage unless given."""


def performance_insights_supported(instance_class: str) -> bool:
    return instance_class not in NO_PERFORMANCE_INSIGHTS


def max_allocated_storage(config: ResolvedArgs) -> int:
    """The ceiling RDS storage autoscaling may grow to: the given one, or STORAGE_GROWTH x the allocated size."""
    if config.db_max_allocated_storage is not None:
        return config.db_max_allocated_storage
    return min(65536, config.db_allocated_storage * STORAGE_GROWTH)


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
        storage_type=STORAGE_TYPE,
        max_allocated_storage=max_allocated_storage(config),
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
        # RDS refuses a major change (16 -> 17) without it. Off unless the user says this `pulumi up` changes the
        # major (db_allow_major_version_upgrade): a program cannot see the deployed version to compare with.
        allow_major_version_upgrade=config.db_allow_major_version_upgrade,
        performance_insights_enabled=performance_insights_supported(config.db_instance_class),
        performance_insights_retention_period=(
            PERFORMANCE_INSIGHTS_FREE_DAYS if performance_insights_supported(config.db_instance_class) else None
        ),
        enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
        apply_immediately=config.apply_immediately,
        tags=ctx.tags("db"),
        opts=ctx.opts(),
    )


def _final_snapshot_name(ctx: BuildContext) -> pulumi.Output[str]:
    """A unique name: a fixed one fails the second deletion (DBSnapshotAlreadyExists), leaving the DB behind."""
    suffix = random.RandomId(ctx.child_name("db-final-snapshot-id"), byte_length=4, opts=ctx.opts())
    return pulumi.Output.concat(ctx.child_name("db-final-"), suffix.hex)


def endpoint(instance: aws.rds.Instance) -> pulumi.Output[DatabaseEndpoint]:
    """Where Airflow reaches the database: TLS with the server verified against the RDS CA bundle in the image."""
    return instance.address.apply(
        lambda host: DatabaseEndpoint(
            host=host,
            port=DB_PORT,
            name=_DEFAULTS.name,
            user=_DEFAULTS.user,
            sslmode=VERIFY_FULL,
            sslrootcert=RDS_CA_BUNDLE,
        )
    )
