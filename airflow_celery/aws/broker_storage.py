"""Where a Fargate Redis keeps its append-only file: an encrypted EFS file system that outlives the task.

ECS replaces a Redis task (a new deployment, a failed health check, a Fargate retirement) rather than restarting
its container, and a new task starts with empty ephemeral storage: without a volume of its own, every task waiting
in the queue would be lost with it. The task mounts the file system through an access point that maps every
request to the redis image's own user (REDIS_UID:REDIS_GID) under its own directory, with TLS in transit and IAM
authorisation: the file system's own policy lets only the Redis task role mount it, only through that access point
and only over TLS (without a policy, EFS lets any client that reaches a mount target in). Two Redis servers never
share the file: the service replaces its task with at most 100 % running (ecs._deployment_limits), old one first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.iam import assume_by_ecs_tasks
from airflow_celery.aws.task_definition import BROKER_VOLUME
from airflow_celery.cluster.roles import REDIS_GID, REDIS_UID

ROOT_DIRECTORY = "/redis"
ROOT_PERMISSIONS = "0700"


@dataclass(frozen=True)
class BrokerStorage:
    file_system: aws.efs.FileSystem
    access_point: aws.efs.AccessPoint
    mount_targets: list[aws.efs.MountTarget]

    def volume(self) -> aws.ecs.TaskDefinitionVolumeArgs:
        """The Redis task's volume: this file system, through its access point, encrypted in transit."""
        return aws.ecs.TaskDefinitionVolumeArgs(
            name=BROKER_VOLUME,
            efs_volume_configuration=aws.ecs.TaskDefinitionVolumeEfsVolumeConfigurationArgs(
                file_system_id=self.file_system.id,
                transit_encryption="ENABLED",
                authorization_config=aws.ecs.TaskDefinitionVolumeEfsVolumeConfigurationAuthorizationConfigArgs(
                    access_point_id=self.access_point.id, iam="ENABLED"
                ),
            ),
        )


def broker_storage(
    ctx: BuildContext, private_subnet_ids: list[pulumi.Input[str]], security_group: aws.ec2.SecurityGroup
) -> BrokerStorage:
    """The file system, one mount target per private subnet (one per zone), and the access point."""
    file_system = aws.efs.FileSystem(
        ctx.child_name("redis-storage"),
        encrypted=True,
        performance_mode="generalPurpose",
        throughput_mode="elastic",
        tags=ctx.tags("redis-storage"),
        opts=ctx.opts(),
    )
    mount_targets = [
        aws.efs.MountTarget(
            ctx.child_name("redis-storage", str(index)),
            file_system_id=file_system.id,
            subnet_id=subnet_id,
            security_groups=[security_group.id],
            opts=ctx.opts(),
        )
        for index, subnet_id in enumerate(private_subnet_ids)
    ]
    access_point = aws.efs.AccessPoint(
        ctx.child_name("redis-storage-access"),
        file_system_id=file_system.id,
        posix_user=aws.efs.AccessPointPosixUserArgs(uid=REDIS_UID, gid=REDIS_GID),
        root_directory=aws.efs.AccessPointRootDirectoryArgs(
            path=ROOT_DIRECTORY,
            creation_info=aws.efs.AccessPointRootDirectoryCreationInfoArgs(
                owner_uid=REDIS_UID, owner_gid=REDIS_GID, permissions=ROOT_PERMISSIONS
            ),
        ),
        tags=ctx.tags("redis-storage-access"),
        opts=ctx.opts(),
    )
    return BrokerStorage(file_system, access_point, mount_targets)


def mount_policy(file_system_arn: str, access_point_arn: str) -> str:
    """Mount and write this file system, only through this access point (EFS IAM authorisation)."""
    statement = {
        "Effect": "Allow",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        "Resource": [file_system_arn],
        "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def file_system_policy(file_system_arn: str, access_point_arn: str, role_arn: str) -> str:
    """The file system's own policy. Without one, EFS lets any NFS client that reaches a mount target mount and
    write; with it, a client must be allowed by IAM: the Redis task role, through its access point, over TLS. Any
    request without TLS is denied."""
    statements = [
        {
            "Sid": "RedisTaskRoleThroughItsAccessPoint",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": file_system_arn,
            "Condition": {
                "StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn},
                "Bool": {"aws:SecureTransport": "true"},
            },
        },
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "*",
            "Resource": file_system_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def broker_task_role(ctx: BuildContext, storage: BrokerStorage) -> aws.iam.Role:
    """The Redis task's role: it may mount its file system and do nothing else (no task logs, no other AWS API)."""
    role = aws.iam.Role(
        ctx.child_name("redis", "task-role"),
        assume_role_policy=assume_by_ecs_tasks(),
        description=f"airflow-celery {ctx.name}: Redis mounts its append-only file's EFS volume",
        tags=ctx.tags("redis", "task-role"),
        opts=ctx.opts(),
    )
    aws.iam.RolePolicy(
        ctx.child_name("redis", "task-role-storage"),
        role=role.id,
        policy=pulumi.Output.all(storage.file_system.arn, storage.access_point.arn).apply(
            lambda v: mount_policy(v[0], v[1])
        ),
        opts=ctx.opts(),
    )
    aws.efs.FileSystemPolicy(
        ctx.child_name("redis-storage-policy"),
        file_system_id=storage.file_system.id,
        policy=pulumi.Output.all(storage.file_system.arn, storage.access_point.arn, role.arn).apply(
            lambda v: file_system_policy(v[0], v[1], v[2])
        ),
        opts=ctx.opts(),
    )
    return role
