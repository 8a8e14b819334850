"""RDS PostgreSQL: private, encrypted, backed up; the prod-like switches reach the instance."""

from __future__ import annotations

from tests.aws.conftest import DEV_NAME, PROD_ARGS

RDS = "aws:rds/instance:Instance"


def test_database_is_encrypted_private_and_backed_up(built):
    db = built.one(RDS).inputs
    assert db["engine"] == "postgres"
    assert db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["backupRetentionPeriod"] >= 1


def test_database_lives_in_the_private_subnets(dev, prod):
    dev_private = sorted(s.id for s in dev.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    for mocks, private in ((dev, dev_private), (prod, sorted(PROD_ARGS["private_subnet_ids"]))):
        group = mocks.one("aws:rds/subnetGroup:SubnetGroup")
        assert sorted(group.inputs["subnetIds"]) == private
        assert mocks.one(RDS).inputs["dbSubnetGroupName"] == group.outputs["name"]


def test_dev_defaults_keep_a_final_snapshot(dev):
    db = dev.one(RDS).inputs
    assert db["multiAz"] is False
    assert db["deletionProtection"] is False
    assert db["skipFinalSnapshot"] is False
    # unique per database: a fixed name fails the second deletion with DBSnapshotAlreadyExists
    suffix = dev.one("random:index/randomId:RandomId").outputs["hex"]
    assert db["finalSnapshotIdentifier"] == f"{DEV_NAME}-db-final-{suffix}"
    assert len(suffix) == 8
    assert db["engineVersion"] == "16"
    assert db["backupRetentionPeriod"] == 7


def test_prod_switches_reach_the_instance(prod):
    db = prod.one(RDS).inputs
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["backupRetentionPeriod"] == PROD_ARGS["db_backup_retention_days"]
    assert db["instanceClass"] == PROD_ARGS["db_instance_class"]


def test_skip_final_snapshot_drops_the_identifier(variant):
    db = variant.one(RDS).inputs
    assert db["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db
    assert db["engineVersion"] == "17"


def test_database_password_is_the_generated_secret(dev):
    db = dev.one(RDS)
    password = dev.one("random:index/randomPassword:RandomPassword", f"{DEV_NAME}-database-password")
    assert db.inputs["password"] == password.outputs["result"]
    assert "password" in db.secret_inputs
