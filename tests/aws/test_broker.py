"""The broker: Redis on Fargate (the default) or ElastiCache with TLS and an AUTH token."""

from __future__ import annotations

import json

from airflow_celery.cluster.roles import REDIS, REDIS_DATA, REDIS_GID, REDIS_UID
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


def test_fargate_mode_runs_a_redis_service_and_no_elasticache(dev):
    assert dev.of_type(GROUP) == []
    service = dev.one("aws:ecs/service:Service", f"{DEV_NAME}-redis-service")
    assert service.inputs["desiredCount"] == 1
    # One broker at a time: two behind the same DNS name would split the queue.
    assert service.inputs["deploymentMaximumPercent"] == 100
    container = dev.container_definitions(dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-redis-task"))
    assert [s["name"] for s in container[0]["secrets"]] == ["REDIS_PASSWORD"]


def test_elasticache_mode_has_tls_auth_and_no_redis_service(prod):
    group = prod.one(GROUP)
    inputs = group.inputs
    assert inputs["engine"] == "redis"
    assert inputs["engineVersion"].startswith("7.")
    assert inputs["transitEncryptionEnabled"] is True
    assert inputs["atRestEncryptionEnabled"] is True
    assert inputs["port"] == REDIS.port("redis").number
    assert inputs["numCacheClusters"] == 2
    assert inputs["automaticFailoverEnabled"] is True and inputs["multiAzEnabled"] is True
    token = prod.one("random:index/randomPassword:RandomPassword", f"{PROD_NAME}-redis-password").outputs["result"]
    assert inputs["authToken"] == token
    assert "authToken" in group.secret_inputs
    assert [s for s in prod.of_type("aws:ecs/service:Service") if s.name.endswith("-redis-service")] == []
    subnets = prod.one("aws:elasticache/subnetGroup:SubnetGroup")
    assert sorted(subnets.inputs["subnetIds"]) == sorted(PROD_ARGS["private_subnet_ids"])
    assert inputs["subnetGroupName"] == subnets.outputs["name"]


def test_fargate_redis_keeps_its_append_only_file_on_encrypted_efs_across_task_replacements(dev, prod):
    """ECS replaces a Redis task rather than restarting its container: the append-only file lives on EFS."""
    file_system = dev.one("aws:efs/fileSystem:FileSystem")
    assert file_system.inputs["encrypted"] is True
    targets = dev.of_type("aws:efs/mountTarget:MountTarget")
    private = {s.id for s in dev.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert {t.inputs["subnetId"] for t in targets} == private
    groups = {g.id: g.name for g in dev.of_type("aws:ec2/securityGroup:SecurityGroup")}
    assert {groups[g] for t in targets for g in t.inputs["securityGroups"]} == {f"{DEV_NAME}-redis-storage-sg"}
    access = dev.one("aws:efs/accessPoint:AccessPoint")
    assert access.inputs["posixUser"] == {"uid": REDIS_UID, "gid": REDIS_GID}
    assert access.inputs["rootDirectory"]["creationInfo"] == {
        "ownerUid": REDIS_UID, "ownerGid": REDIS_GID, "permissions": "0700"
    }  # fmt: skip
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-redis-task")
    (volume,) = task.inputs["volumes"]
    efs = volume["efsVolumeConfiguration"]
    assert efs["fileSystemId"] == file_system.id and efs["transitEncryption"] == "ENABLED"
    assert efs["authorizationConfig"] == {"accessPointId": access.id, "iam": "ENABLED"}
    (container,) = dev.container_definitions(task)
    assert container["mountPoints"] == [
        {"sourceVolume": volume["name"], "containerPath": REDIS_DATA, "readOnly": False}
    ]
    service = dev.one("aws:ecs/service:Service", f"{DEV_NAME}-redis-service")
    assert {t.urn for t in targets} <= set(service.dependencies)  # no task before its volume can be mounted
    assert prod.of_type("aws:efs/fileSystem:FileSystem") == []  # ElastiCache keeps its own data


def test_redis_never_runs_as_root_anywhere(dev):
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-redis-task")
    (container,) = dev.container_definitions(task)
    assert container["user"] == f"{REDIS_UID}:{REDIS_GID}" == REDIS.user
    assert REDIS_UID != 0 and REDIS_GID != 0


def test_only_the_redis_task_role_may_mount_the_file_system_through_its_access_point(dev):
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-redis-task")
    role = dev.one("aws:iam/role:Role", f"{DEV_NAME}-redis-task-role")
    assert task.inputs["taskRoleArn"] == role.outputs["arn"]
    policies = [
        p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(f"{DEV_NAME}-redis-task-role")
    ]
    (policy,) = policies  # no task-log grant: Redis writes no Airflow logs
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    access = dev.one("aws:efs/accessPoint:AccessPoint")
    assert statement["Condition"] == {"StringEquals": {"elasticfilesystem:AccessPointArn": access.outputs["arn"]}}


def test_a_rotated_auth_token_is_added_beside_the_old_one_while_services_roll(prod):
    """ROTATE, explicitly; botocore's model allows SET (which retires the old token) only after a ROTATE."""
    import botocore.session

    (group,) = prod.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.inputs["authTokenUpdateStrategy"] == "ROTATE"
    model = botocore.session.get_session().get_service_model("elasticache")
    documentation = model.operation_model("ModifyReplicationGroup").input_shape.members["AuthTokenUpdateStrategy"]
    assert "SET - allowed only after ROTATE" in documentation.documentation


def test_the_file_system_policy_admits_only_the_redis_role_through_its_access_point_over_tls(dev):
    """Without a file system policy EFS admits any NFS client that reaches a mount target; the identity policy
    above only adds permissions."""
    (policy,) = dev.of_type("aws:efs/fileSystemPolicy:FileSystemPolicy")
    file_system = dev.one("aws:efs/fileSystem:FileSystem")
    assert policy.inputs["fileSystemId"] == file_system.id
    allow, deny = json.loads(policy.inputs["policy"])["Statement"]
    role = dev.one("aws:iam/role:Role", f"{DEV_NAME}-redis-task-role")
    access = dev.one("aws:efs/accessPoint:AccessPoint")
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": role.outputs["arn"]}
    assert allow["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert allow["Condition"] == {
        "StringEquals": {"elasticfilesystem:AccessPointArn": access.outputs["arn"]},
        "Bool": {"aws:SecureTransport": "true"},
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
