"""Hibernation: every service to zero outside working hours, the database stopped with it, the plan's second
total."""

from __future__ import annotations

import json

import botocore.session
import pytest

from airflow_celery.aws.args import ConfigError, resolve_args
from tests.aws import harness
from tests.aws.conftest import DEV_NAME

ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"
SCHEDULE = "aws:scheduler/schedule:Schedule"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "worker", "flower", "redis")
BERLIN = {"days": "MON-FRI", "wake": 7, "sleep": 19, "timezone": "Europe/Berlin"}


@pytest.fixture(scope="module")
def sleepy():
    return harness.build_component("hib", {"hibernation": BERLIN, "worker_min_count": 0, "worker_max_count": 1})


def test_every_service_sleeps_at_seven_pm_and_wakes_at_seven_in_its_timezone(sleepy):
    actions = {a.name.removeprefix("hib-"): a.inputs for a in sleepy.of_type(ACTION)}
    assert set(actions) == {f"{name}-{when}" for name in SERVICES for when in ("sleep", "wake")}
    for name in SERVICES:
        sleep, wake = actions[f"{name}-sleep"], actions[f"{name}-wake"]
        assert sleep["schedule"] == "cron(0 19 ? * MON-FRI *)" and wake["schedule"] == "cron(0 7 ? * MON-FRI *)"
        assert sleep["timezone"] == wake["timezone"] == "Europe/Berlin"
        assert sleep["resourceId"] == f"service/hib-cluster/hib-{name}-service"
        assert sleep["scalableTargetAction"] == {"minCapacity": 0, "maxCapacity": 0}
    assert actions["worker-wake"]["scalableTargetAction"] == {"minCapacity": 0, "maxCapacity": 1}  # autoscaling
    assert actions["api-server-wake"]["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 1}


def test_the_worker_reuses_its_scaling_target_and_no_pulumi_up_wakes_a_service(sleepy):
    targets = [t.name for t in sleepy.of_type("aws:appautoscaling/target:Target")]
    assert "hib-worker-scaling" in targets and "hib-worker-hibernation" not in targets
    assert len(targets) == len(SERVICES)
    for service in sleepy.of_type("aws:ecs/service:Service"):
        assert service.ignore_changes == ["desiredCount"], service.name


def test_the_database_stops_and_starts_with_a_role_that_may_do_only_that(sleepy):
    db = sleepy.one("aws:rds/instance:Instance")
    schedules = {s.name: s.inputs for s in sleepy.of_type(SCHEDULE) if s.name.startswith("hib-db-")}
    assert schedules["hib-db-stop"]["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:rds:stopDBInstance"
    assert schedules["hib-db-start"]["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:rds:startDBInstance"
    for schedule in schedules.values():
        assert json.loads(schedule["target"]["input"]) == {"DbInstanceIdentifier": db.outputs["identifier"]}
        assert schedule["scheduleExpressionTimezone"] == "Europe/Berlin"
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    policy = json.loads(sleepy.one("aws:iam/rolePolicy:RolePolicy", "hib-db-hibernation-policy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["rds:StopDBInstance", "rds:StartDBInstance"]
    assert statement["Resource"] == [db.outputs["arn"]]


def test_without_a_schedule_nothing_sleeps(dev):
    assert not dev.of_type(ACTION)
    assert [s.name for s in dev.of_type(SCHEDULE)] == [f"{DEV_NAME}-housekeeping"]  # db clean, not hibernation


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        ({"days": "MON-SUN"}, "hibernation.days"),
        ({"days": "SAT-SUN"}, "hibernation.days"),  # only the listed ranges; none sleeps near RDS's 7-day limit
        ({"wake": 24}, "hibernation.wake"),
        ({"wake": 19, "sleep": 7}, "hibernation.sleep"),
        ({"timezone": "CET+1"}, "hibernation.timezone"),
    ],
)
def test_a_schedule_aws_cannot_keep_is_refused(schedule, key):
    with pytest.raises(ConfigError) as caught:
        resolve_args("x", {"hibernation": schedule})
    assert caught.value.key == key


def test_the_apis_take_what_the_schedules_send():
    """PutScheduledAction takes a Timezone and a min/max ScalableTargetAction; CreateSchedule a timezone and a
    target (botocore's application-autoscaling and scheduler models)."""
    session = botocore.session.get_session()
    put = session.get_service_model("application-autoscaling").operation_model("PutScheduledAction").input_shape
    assert {"Timezone", "Schedule", "ScalableTargetAction"} <= set(put.members)
    assert set(put.members["ScalableTargetAction"].members) == {"MinCapacity", "MaxCapacity"}
    create = session.get_service_model("scheduler").operation_model("CreateSchedule").input_shape
    assert {"ScheduleExpressionTimezone", "Target", "FlexibleTimeWindow"} <= set(create.members)


def test_plan_prints_the_month_running_and_with_the_schedule():
    from airflow_celery.plan import make_plan
    from tests.plan.conftest import PROJECT_DIR

    plan = make_plan(PROJECT_DIR, "dev")
    assert plan.cost.awake_share == 60 / 168  # MON-FRI, 7 to 19
    sleeping = sum(line.monthly_usd for line in plan.cost.lines if line.sleeps)
    assert plan.cost.total_with_schedule == round(plan.cost.total - sleeping * (1 - 60 / 168), 2)
    assert {line.concern for line in plan.cost.lines if line.sleeps} == {"Fargate", "RDS", "CloudWatch Logs"}
    assert not [line for line in plan.cost.lines if line.sleeps and "storage" in line.item]
