"""Worker autoscaling on ECS under mocks: target, policy, alarm, ignore_changes, capacity providers and IAM."""

from __future__ import annotations

import itertools
import json

import pytest

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, namespace
from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.aws.scaling import Step, steps
from airflow_celery.cluster.env import METRIC_NAMESPACE_VAR
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SERVICE = "aws:ecs/service:Service"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _scaling_alarms(mocks):
    """The alarm that drives the scaling policy (the others notify people: tests/aws/test_alarms.py)."""
    return [a for a in mocks.of_type(ALARM) if a.name.endswith("-worker-desired")]


def test_a_fixed_worker_count_creates_no_scaling(dev):
    assert dev.of_type(TARGET) == dev.of_type(POLICY) == _scaling_alarms(dev) == []
    assert dev.one(SERVICE, f"{DEV_NAME}-worker-service").ignore_changes == []
    names = [c["name"] for c in dev.container_definitions(dev.one("aws:ecs/taskDefinition:TaskDefinition",
                                                                   f"{DEV_NAME}-scheduler-task"))]  # fmt: skip
    assert "autoscaler" not in names


def test_the_scalable_target_has_min_and_max_from_config(prod):
    (target,) = prod.of_type(TARGET)
    assert target.inputs["minCapacity"] == PROD_ARGS["worker_count"]  # min follows the count when unset
    assert target.inputs["maxCapacity"] == PROD_ARGS["worker_max_count"]
    assert target.inputs["scalableDimension"] == "ecs:service:DesiredCount"
    assert target.inputs["resourceId"] == f"service/{PROD_NAME}-cluster/{PROD_NAME}-worker-service"


def test_the_policy_sets_exactly_the_published_count_from_min_to_max(prod):
    (policy,) = prod.of_type(POLICY)
    config = policy.inputs["stepScalingPolicyConfiguration"]
    assert config["adjustmentType"] == "ExactCapacity"
    assert config["metricAggregationType"] == "Maximum"
    capacities = [step["scalingAdjustment"] for step in config["stepAdjustments"]]
    assert capacities == list(range(PROD_ARGS["worker_count"], PROD_ARGS["worker_max_count"] + 1))
    assert config["stepAdjustments"][0]["metricIntervalLowerBound"] == "0"
    assert "metricIntervalUpperBound" not in config["stepAdjustments"][-1]


def test_the_alarm_follows_desired_workers_in_the_deployments_namespace_and_acts_every_minute(prod):
    (alarm,) = _scaling_alarms(prod)
    (policy,) = prod.of_type(POLICY)
    assert alarm.inputs["namespace"] == namespace(PROD_NAME) == f"AirflowCelery/{PROD_NAME}"
    assert alarm.inputs["metricName"] == DESIRED_METRIC
    assert (alarm.inputs["statistic"], alarm.inputs["period"], alarm.inputs["evaluationPeriods"]) == ("Maximum", 60, 1)
    assert (alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == (0, "GreaterThanOrEqualToThreshold")
    assert alarm.inputs["treatMissingData"] == "missing"  # no scheduler: the count stays as it is
    assert alarm.inputs["alarmActions"] == [
        policy.outputs.get("arn") or policy.inputs.get("arn", alarm.inputs["alarmActions"][0])
    ]


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"),
    [
        (0, 1, [Step(0.0, 0.5, 0), Step(0.5, None, 1)]),  # scale out from zero, back to zero
        (2, 4, [Step(0.0, 2.5, 2), Step(2.5, 3.5, 3), Step(3.5, None, 4)]),  # back in to min, never below
    ],
)
def test_steps_cover_every_count_without_gaps(minimum, maximum, expected):
    assert steps(minimum, maximum) == expected


def test_autoscaling_leaves_the_worker_count_to_application_auto_scaling(prod):
    worker = prod.one(SERVICE, f"{PROD_NAME}-worker-service")
    assert worker.ignore_changes == ["desiredCount"]
    assert worker.inputs["desiredCount"] == PROD_ARGS["worker_count"]  # the initial count
    assert all(s.ignore_changes == [] for s in prod.of_type(SERVICE) if s is not worker)


def test_the_autoscaler_runs_in_the_scheduler_task_and_publishes_to_the_namespace(prod):
    task = prod.one("aws:ecs/taskDefinition:TaskDefinition", f"{PROD_NAME}-scheduler-task")
    containers = {c["name"]: c for c in prod.container_definitions(task)}
    sidecar = containers["autoscaler"]
    assert sidecar["essential"] is False and sidecar["restartPolicy"]["enabled"] is True
    assert sidecar["command"] == ["autoscaler"]
    env = {e["name"]: e["value"] for e in sidecar["environment"]}
    assert env[METRIC_NAMESPACE_VAR] == namespace(PROD_NAME)
    assert {s["name"] for s in sidecar["secrets"]} == {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"}
    assert "dependsOn" not in sidecar


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        ("fargate", [{"capacityProvider": "FARGATE", "weight": 1}]),
        ("fargate-spot", [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
        ("mixed", [{"capacityProvider": "FARGATE", "base": 2, "weight": 0},
                   {"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
    ],
)  # fmt: skip
def test_the_capacity_provider_strategy_follows_worker_capacity(capacity, expected):
    mocks = harness.build_component(
        "spot",
        {"worker_count": 2, "worker_max_count": 4, "worker_concurrency": 4, "worker_capacity": capacity},
        stack="dev",
    )
    worker = mocks.one(SERVICE, "spot-worker-service")
    assert worker.inputs["capacityProviderStrategies"] == expected
    assert "launchType" not in worker.inputs
    providers = mocks.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert providers.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert all(s.inputs["launchType"] == "FARGATE" for s in mocks.of_type(SERVICE) if s is not worker)


def test_more_counts_than_the_step_quota_are_grouped_upwards():
    """Application Auto Scaling allows 20 steps per policy: the 101 counts of 0..100 are cut into 17 runs of 6
    (the last of 5), each set to its highest count, so the workers are never fewer than the metric asks for."""
    found = steps(0, 100)
    assert len(found) == 17 <= 20
    assert found[0] == Step(0.0, 5.5, 5)
    assert (found[0].lower, found[-1].upper, found[-1].capacity) == (0.0, None, 100)
    for previous, step in itertools.pairwise(found):
        assert previous.upper == step.lower  # no gap, no overlap
    for desired in range(0, 101):
        (step,) = [s for s in found if s.lower <= desired and (s.upper is None or desired < s.upper)]
        assert desired <= step.capacity < desired + 6
    assert len(steps(1, 20)) == 20 and [s.capacity for s in steps(1, 20)] == list(range(1, 21))


def test_worker_capacity_is_a_choice():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"worker_capacity": "spot"})
    assert caught.value.key == "worker_capacity" and "fargate-spot" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"worker_scale_in_cooldown": 10})
    assert caught.value.key == "worker_scale_in_cooldown"


def _statements(mocks, name):
    return json.loads(mocks.one(ROLE_POLICY, name).inputs["policy"])["Statement"]


def test_the_scheduler_may_put_metrics_only_into_its_namespace(prod):
    assert _statements(prod, f"{PROD_NAME}-scheduler-task-role-metrics") == [
        {
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": f"AirflowCelery/{PROD_NAME}"}},
        },
        # A restarted autoscaler reads back its last decision (autoscaler/cloudwatch.py); no narrower form exists.
        {"Effect": "Allow", "Action": ["cloudwatch:GetMetricStatistics"], "Resource": "*"},
    ]


def test_a_worker_may_protect_and_describe_only_tasks_of_its_cluster_and_its_own_service(prod):
    """The drain protocol's calls (autoscaler/ecs_service.py, protection.py), scoped to this cluster's tasks and
    to the worker service, whose auto-name starts with its resource name."""
    cluster_arn = prod.one("aws:ecs/cluster:Cluster").outputs["arn"]
    tasks = cluster_arn.replace(":cluster/", ":task/") + "/*"
    services = cluster_arn.replace(":cluster/", ":service/") + f"/{PROD_NAME}-worker-service-*"
    assert prod.one("aws:ecs/service:Service", f"{PROD_NAME}-worker-service")
    assert _statements(prod, f"{PROD_NAME}-worker-task-role-protection") == [
        {"Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:UpdateTaskProtection"], "Resource": [tasks]},
        {"Effect": "Allow", "Action": ["ecs:DescribeServices"], "Resource": [services]},
    ]


def test_no_other_role_gets_the_scaling_grants(prod):
    extra = {
        p.name
        for p in prod.of_type(ROLE_POLICY)
        if p.name.endswith(("-metrics", "-protection")) and not p.name.endswith("-airflow-metrics")
    }  # Airflow's own: PutMetricData only (test_airflow_metrics)
    assert extra == {f"{PROD_NAME}-scheduler-task-role-metrics", f"{PROD_NAME}-worker-task-role-protection"}


@pytest.mark.parametrize(("minimum", "maximum"), [(0, 1), (2, 10), (0, 100)])
def test_the_policy_and_alarm_are_valid_api_requests(minimum, maximum):
    """The policy's steps and the alarm as PutScalingPolicy and PutMetricAlarm requests, checked against
    botocore's service models (types, required members, ranges)."""
    import botocore.session
    from botocore.validate import ParamValidator

    from airflow_celery.aws.scaling import METRIC_PERIOD, POLICY_COOLDOWN

    session = botocore.session.get_session()
    scaling = session.get_service_model("application-autoscaling").operation_model("PutScalingPolicy")
    adjustments = []
    for step in steps(minimum, maximum):
        adjustment = {"MetricIntervalLowerBound": step.lower, "ScalingAdjustment": step.capacity}
        if step.upper is not None:
            adjustment["MetricIntervalUpperBound"] = step.upper
        adjustments.append(adjustment)
    policy = {
        "PolicyName": "airflow-worker-follow-desired",
        "ServiceNamespace": "ecs",
        "ResourceId": "service/airflow-cluster/airflow-worker-service",
        "ScalableDimension": "ecs:service:DesiredCount",
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {"AdjustmentType": "ExactCapacity", "Cooldown": POLICY_COOLDOWN,
                                           "MetricAggregationType": "Maximum", "StepAdjustments": adjustments},
    }  # fmt: skip
    report = ParamValidator().validate(policy, scaling.input_shape)
    assert not report.has_errors(), report.generate_report()

    alarm_model = session.get_service_model("cloudwatch").operation_model("PutMetricAlarm")
    alarm = {
        "AlarmName": "airflow-worker-desired",
        "Namespace": namespace("airflow"),
        "MetricName": DESIRED_METRIC,
        "Statistic": "Maximum",
        "Period": METRIC_PERIOD,
        "EvaluationPeriods": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "AlarmActions": ["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:resource/ecs/y:policyName/z"],
    }
    report = ParamValidator().validate(alarm, alarm_model.input_shape)
    assert not report.has_errors(), report.generate_report()
