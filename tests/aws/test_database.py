"""RDS PostgreSQL: private, encrypted, backed up; the prod-like switches reach the instance."""

from __future__ import annotations

import botocore.session
import pytest

from airflow_celery.aws.args import ConfigError, resolve_args
from tests.aws import harness
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


def test_storage_is_gp3_and_grows_by_itself(dev, prod):
    for mocks, allocated in ((dev, 20), (prod, 20)):
        db = mocks.one(RDS).inputs
        assert db["storageType"] == "gp3"
        assert db["maxAllocatedStorage"] == 4 * allocated


def test_performance_insights_on_its_free_tier_where_the_class_supports_it(dev, prod):
    # db.t4g.small (dev) is one of the classes Database Insights does not support; db.m7g.large (prod) is not.
    assert dev.one(RDS).inputs["performanceInsightsEnabled"] is False
    db = prod.one(RDS).inputs
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsRetentionPeriod"] == 7


def test_postgresql_logs_are_exported(built):
    assert built.one(RDS).inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_major_upgrades_only_when_asked(dev):
    assert dev.one(RDS).inputs["allowMajorVersionUpgrade"] is False
    upgraded = harness.build_component("upgrade", {"db_engine_version": "17", "db_allow_major_version_upgrade": True})
    assert upgraded.one(RDS).inputs["allowMajorVersionUpgrade"] is True


def test_max_allocated_storage_given_or_off():
    assert (
        harness.build_component("grow", {"db_max_allocated_storage": 500}).one(RDS).inputs["maxAllocatedStorage"] == 500
    )
    assert harness.build_component("fixed", {"db_max_allocated_storage": 0}).one(RDS).inputs["maxAllocatedStorage"] == 0


def test_max_allocated_storage_below_the_allocated_size_is_refused():
    with pytest.raises(ConfigError, match=r"db_max_allocated_storage=50 .*from db_allocated_storage \(100\)"):
        resolve_args("x", {"db_allocated_storage": 100, "db_max_allocated_storage": 50})


def test_the_rds_api_takes_every_setting_the_database_uses():
    """The settings exist in the RDS API (botocore's model of CreateDBInstance), with the values used here."""
    model = botocore.session.get_session().get_service_model("rds")
    members = model.operation_model("CreateDBInstance").input_shape.members
    for name in ("StorageType", "MaxAllocatedStorage", "EnablePerformanceInsights",
                 "PerformanceInsightsRetentionPeriod", "EnableCloudwatchLogsExports"):  # fmt: skip
        assert name in members
    assert "AllowMajorVersionUpgrade" in model.operation_model("ModifyDBInstance").input_shape.members
    assert "gp3" in members["StorageType"].documentation
