"""Where logs go: a CloudWatch log group per role (container output) and an S3 bucket for task logs."""

from __future__ import annotations

import json

import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.roles import Role

TASK_LOG_PREFIX = "logs"


def log_groups(ctx: BuildContext, roles: list[Role]) -> dict[str, aws.cloudwatch.LogGroup]:
    return {
        r.name: aws.cloudwatch.LogGroup(
            ctx.child_name(r.name, "logs"),
            retention_in_days=ctx.config.log_retention_days,
            tags=ctx.tags(r.name, "logs"),
            opts=ctx.opts(),
        )
        for r in roles
    }


def task_log_bucket(ctx: BuildContext) -> aws.s3.Bucket:
    """Private, encrypted bucket for remote task logs; emptied on destroy only when ECR is force-deleted too."""
    bucket = aws.s3.Bucket(
        ctx.child_name("task-logs"),
        force_destroy=ctx.config.ecr_force_delete,
        tags=ctx.tags("task-logs"),
        opts=ctx.opts(),
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        ctx.child_name("task-logs-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=ctx.opts(),
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        ctx.child_name("task-logs-encryption"),
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=ctx.opts(),
    )
    aws.s3.BucketPolicy(
        ctx.child_name("task-logs-tls-only"),
        bucket=bucket.id,
        policy=bucket.arn.apply(tls_only_policy),
        opts=ctx.opts(depends_on=[public_access]),
    )
    return bucket


def tls_only_policy(bucket_arn: str) -> str:
    """Refuse every request to the bucket that does not come over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def remote_log_folder(bucket_name: str) -> str:
    return f"s3://{bucket_name}/{TASK_LOG_PREFIX}"
