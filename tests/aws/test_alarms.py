"""Alarms, their SNS topic and the failed-task metric under mocks, checked against botocore's cloudwatch model,
the metrics something publishes, the capacity limits and the scheduler's real log line."""

from __future__ import annotations

import inspect
import json
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from airflow_celery.autoscaler.cloudwatch import METRICS, namespace
from airflow_celery.aws.alarms import (
    ALARM_ACTIONS_PRINCIPAL,
    FAILED_TASK_PATTERN,
    FAILED_TASKS_METRIC,
    TOPIC_KEY_ACTIONS,
    Watched,
    alarm_specs,
    published_metrics,
    queued_minutes,
)
from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.cluster.limits import connection_budget
from airflow_celery.cluster.roles import STARTUP_DEADLINE
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"

# A recorded MetricAlarm's inputs -> PutMetricAlarm's members (botocore's cloudwatch model names).
_MEMBERS = {
    "alarmDescription": "AlarmDescription",
    "namespace": "Namespace",
    "metricName": "MetricName",
    "statistic": "Statistic",
    "period": "Period",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
}


def _put_metric_alarm(recorded) -> dict:
    request = {"AlarmName": recorded.name}
    for key, member in _MEMBERS.items():
        if key in recorded.inputs:
            request[member] = recorded.inputs[key]
    for member in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        # Pulumi's wire format carries every number as a double; the provider sends these as integers.
        if member in request:
            assert float(request[member]).is_integer()
            request[member] = int(request[member])
    if recorded.inputs.get("dimensions"):
        request["Dimensions"] = [{"Name": k, "Value": v} for k, v in recorded.inputs["dimensions"].items()]
    return request


def _validate(operation: str, request: dict) -> None:
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model(operation)
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def _observing(mocks, name):
    return [a for a in mocks.of_type(ALARM) if a.name.startswith(f"{name}-alarm-")]


@pytest.mark.parametrize(("fixture", "name"), [("dev", DEV_NAME), ("prod", PROD_NAME)])
def test_every_alarm_is_a_valid_put_metric_alarm_on_a_published_metric(request, fixture, name):
    mocks = request.getfixturevalue(fixture)
    config = resolve_args(name, {} if fixture == "dev" else PROD_ARGS)
    published = published_metrics(config)
    alarms = _observing(mocks, name)
    assert alarms
    for alarm in alarms:
        _validate("PutMetricAlarm", _put_metric_alarm(alarm))
        assert alarm.inputs["metricName"] in published[alarm.inputs["namespace"]], alarm.name


def test_the_alarm_specs_are_valid_requests_for_every_broker_and_scaling_choice():
    watched = Watched("c", {"api-server": "a", "scheduler": "s", "worker": "w", "redis": "r"}, "db", "app/x/1",
                      "targetgroup/y/2", "r-001")  # fmt: skip
    for args in (
        {},
        {
            "worker_max_count": 4,
            "db_instance_class": "db.t4g.medium",
            "redis_mode": "elasticache",
            "container_insights": False,
        },
    ):
        config = resolve_args("airflow", args)
        for spec in alarm_specs(config, watched):
            _validate("PutMetricAlarm", spec.request(f"airflow-{spec.key}", ["arn:aws:sns:us-east-1:1:t"]))


def test_prod_alarms_cover_what_the_issue_asks(prod):
    keys = {a.name.removeprefix(f"{PROD_NAME}-alarm-") for a in _observing(prod, PROD_NAME)}
    assert keys == {"api-server-unhealthy", "alb-5xx", "alb-no-target", "db-cpu", "db-connections", "db-storage",
                    "scheduler-down", "autoscaler-silent", "tasks-queued", "workers-at-max",
                    "scheduler-heartbeat", "dag-processor-heartbeat", "triggerer-heartbeat", "tasks-lost",
                    "dag-import-errors"}  # fmt: skip


def test_alarms_on_airflow_metrics_name_them_as_the_agent_publishes_them(prod):
    """Name with the StatsD prefix and dots kept, the one dimension the agent adds (metric_type), the deployment's
    namespace: an alarm on any other name or dimension set would watch a metric nobody publishes."""
    from airflow_celery.cluster.metrics import AIRFLOW_METRICS

    by_name = {m.published_name(): m for m in AIRFLOW_METRICS if not m.per_pool}
    airflow = [a for a in _observing(prod, PROD_NAME) if a.inputs["metricName"].startswith("airflow.")]
    assert len(airflow) == 5
    for alarm in airflow:
        metric = by_name[alarm.inputs["metricName"]]
        assert alarm.inputs["namespace"] == namespace(PROD_NAME)
        assert alarm.inputs["dimensions"] == {"metric_type": metric.kind}
    heartbeats = [a for a in airflow if a.inputs["metricName"].endswith("_heartbeat")]
    assert {a.inputs["treatMissingData"] for a in heartbeats} == {"breaching"}  # no data is the failure itself


def test_without_airflow_metrics_no_alarm_watches_them():
    watched = Watched("c", {"api-server": "a", "scheduler": "s", "worker": "w", "redis": "r"}, "db", "app/x/1",
                      "targetgroup/y/2")  # fmt: skip
    config = resolve_args("airflow", {"airflow_metrics": False})
    assert not [s for s in alarm_specs(config, watched) if s.metric.startswith("airflow.")]
    assert not [n for n in published_metrics(config)[namespace("airflow")] if n.startswith("airflow.")]


def test_dev_without_autoscaling_has_no_autoscaler_alarms(dev):
    keys = {a.name.removeprefix(f"{DEV_NAME}-alarm-") for a in _observing(dev, DEV_NAME)}
    assert not keys & {"autoscaler-silent", "tasks-queued", "workers-at-max"}
    assert "scheduler-down" in keys  # Container Insights is on by default


def test_thresholds_come_from_the_config_and_the_capacity_limits(prod):
    config = resolve_args(PROD_NAME, PROD_ARGS)
    alarms = {a.name.removeprefix(f"{PROD_NAME}-alarm-"): a.inputs for a in _observing(prod, PROD_NAME)}
    budget = connection_budget(config.capacity)
    assert alarms["db-connections"]["threshold"] == budget.steady + budget.reserved
    assert alarms["api-server-unhealthy"]["threshold"] == config.api_server_count
    assert alarms["scheduler-down"]["threshold"] == config.scheduler_count
    assert alarms["workers-at-max"]["threshold"] == PROD_ARGS["worker_max_count"]
    assert alarms["db-storage"]["threshold"] == 0.1 * config.db_allocated_storage * 1024**3
    assert alarms["tasks-queued"]["evaluationPeriods"] == queued_minutes() == -(-(STARTUP_DEADLINE + 120) // 60)


def test_every_alarm_notifies_the_topic_and_only_an_email_given_is_subscribed(prod, dev):
    for mocks, name in ((prod, PROD_NAME), (dev, DEV_NAME)):
        topic = mocks.one(TOPIC, f"{name}-alarms")
        assert topic.inputs["kmsMasterKeyId"] == mocks.one(KEY, f"{name}-alarms-key").outputs["arn"]
        for alarm in _observing(mocks, name):
            assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]]
        assert mocks.of_type(SUBSCRIPTION) == []
    mailed = harness.build_component("mailed", {"alarm_email": "ops@example.com"})
    subscription = mailed.one(SUBSCRIPTION, "mailed-alarms-email")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "ops@example.com")


def test_a_bad_alarm_email_is_refused_naming_the_key():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {"alarm_email": "ops at example"})
    assert caught.value.key == "alarm_email" and "email address" in str(caught.value)


def test_the_custom_metrics_named_are_those_the_autoscaler_the_metric_filter_and_the_agents_publish(prod):
    """The deployment's namespace holds the autoscaler's metrics (autoscaler/cloudwatch.py), the failed-task
    metric filter's and Airflow's own from the metrics agents, whose config names that namespace; nothing else."""
    from airflow_celery.cluster.metrics import AGENT_CONFIG_VAR, AGENT_CONTAINER, published_names

    config = resolve_args(PROD_NAME, PROD_ARGS)
    (metric_filter,) = prod.of_type(FILTER)
    transformation = metric_filter.inputs["metricTransformation"]
    assert (transformation["namespace"], transformation["name"]) == (namespace(PROD_NAME), FAILED_TASKS_METRIC)
    scheduler_logs = prod.one("aws:cloudwatch/logGroup:LogGroup", f"{PROD_NAME}-scheduler-logs")
    assert metric_filter.inputs["logGroupName"] == scheduler_logs.outputs["name"]
    assert published_metrics(config)[namespace(PROD_NAME)] == {FAILED_TASKS_METRIC, *METRICS, *published_names()}
    agents = [c for t in prod.of_type("aws:ecs/taskDefinition:TaskDefinition")
              for c in json.loads(t.inputs["containerDefinitions"]) if c["name"] == AGENT_CONTAINER]  # fmt: skip
    assert len(agents) == 4
    for agent in agents:
        (config_var,) = agent["environment"]
        assert config_var["name"] == AGENT_CONFIG_VAR
        assert json.loads(config_var["value"])["metrics"]["namespace"] == namespace(PROD_NAME)


def _scheduler_finished_line() -> str:
    """The format of the scheduler's `TaskInstance Finished` line, read from the pinned Airflow source."""
    from airflow.jobs import scheduler_job_runner

    source = inspect.getsource(scheduler_job_runner)
    start = source.index('"TaskInstance Finished:')
    literal = source[start : source.index(")", start)]
    return "".join(re.findall(r'"([^"]*)"', literal))


def _matches(pattern: str, line: str) -> bool:
    """CloudWatch Logs filter syntax for quoted terms: every term must occur in the event."""
    return all(term in line for term in re.findall(r'"([^"]*)"', pattern))


def test_the_failed_task_filter_matches_the_schedulers_real_line_for_failed_tries_only():
    from airflow.utils.state import TaskInstanceState

    fmt = _scheduler_finished_line().replace("%d", "%s")
    fields = fmt.count("%s")
    state_at = fmt[: fmt.index("state=%s")].count("%s")

    def line(state, executor_state):
        values = ["x"] * fields
        values[state_at], values[state_at + 1], values[state_at + 2] = state, "CeleryExecutor", executor_state
        return fmt % tuple(values)

    assert _matches(FAILED_TASK_PATTERN, line(TaskInstanceState.FAILED, "failed"))
    assert not _matches(FAILED_TASK_PATTERN, line(TaskInstanceState.UP_FOR_RETRY, "failed"))
    assert not _matches(FAILED_TASK_PATTERN, line(TaskInstanceState.SUCCESS, "success"))


def test_a_hibernating_stack_turns_its_alarm_actions_off_while_it_sleeps():
    sleepy = harness.build_component(
        "hib", {"hibernation": {"days": "MON-FRI", "wake": 7, "sleep": 19, "timezone": "Europe/Berlin"},
                "worker_min_count": 0, "worker_max_count": 1},
    )  # fmt: skip
    alarms = _observing(sleepy, "hib")
    schedules = {s.name: s.inputs for s in sleepy.of_type("aws:scheduler/schedule:Schedule")}
    off, on = schedules["hib-alarms-disable"], schedules["hib-alarms-enable"]
    assert (off["scheduleExpression"], on["scheduleExpression"]) == (
        "cron(0 19 ? * MON-FRI *)",
        "cron(0 8 ? * MON-FRI *)",
    )
    assert off["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:cloudwatch:disableAlarmActions"
    assert on["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:cloudwatch:enableAlarmActions"
    expected = {"AlarmNames": sorted(a.outputs["name"] for a in alarms)}
    model = botocore.session.get_session().get_service_model("cloudwatch")
    for schedule in (off, on):
        assert schedule["scheduleExpressionTimezone"] == "Europe/Berlin"
        assert sorted(json.loads(schedule["target"]["input"])["AlarmNames"]) == expected["AlarmNames"]
        operation = "DisableAlarmActions" if schedule is off else "EnableAlarmActions"
        report = ParamValidator().validate(expected, model.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
    (statement,) = json.loads(sleepy.one(POLICY, "hib-alarms-quiet-policy").inputs["policy"])["Statement"]
    assert statement["Action"] == ["cloudwatch:DisableAlarmActions", "cloudwatch:EnableAlarmActions"]
    assert statement["Resource"] == sorted(a.outputs["arn"] for a in alarms)
    assert not [s for s in harness.build_component("awake", {}).of_type("aws:scheduler/schedule:Schedule")
                if "alarms" in s.name]  # fmt: skip


# --- the topic's key: CloudWatch alarm actions can publish only to a topic whose key policy admits them ----------


def _validate_with(service: str, operation: str, request: dict) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize(("fixture", "name"), [("prod", PROD_NAME), ("dev", DEV_NAME)])
def test_the_topic_is_encrypted_with_its_own_key_not_snss_aws_managed_one(request, fixture, name):
    """SNS's AWS-managed key (alias/aws/sns) has a key policy AWS maintains, which does not admit CloudWatch's alarm
    actions: with it every alarm's notification failed ("CloudWatch Alarms does not have authorization to access
    the SNS topic encryption key", https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns)."""
    mocks = request.getfixturevalue(fixture)
    (key,) = mocks.of_type(KEY)
    topic = mocks.one(TOPIC, f"{name}-alarms")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] != "alias/aws/sns"
    assert key.name == f"{name}-alarms-key" and key.parent_urn == topic.parent_urn
    assert key.inputs["enableKeyRotation"] is True
    # AWS KMS: "The range is 7-30 days" (ScheduleKeyDeletion, kms/latest/cryptographic-details/key-deletion.html);
    # botocore's model only says 1-365.
    assert 7 <= key.inputs["deletionWindowInDays"] <= 30
    alias = mocks.one(ALIAS, f"{name}-alarms-key-alias")
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]
    assert alias.inputs["namePrefix"] == f"alias/{name}-alarms-"


def test_the_key_policy_admits_the_account_and_cloudwatch_alarms_to_exactly_two_actions(prod):
    policy = json.loads(prod.one(KEY, f"{PROD_NAME}-alarms-key").inputs["policy"])
    by_principal = {json.dumps(s["Principal"], sort_keys=True): s for s in policy["Statement"]}
    assert set(by_principal) == {'{"AWS": "arn:aws:iam::123456789012:root"}',
                                 json.dumps({"Service": ALARM_ACTIONS_PRINCIPAL})}  # fmt: skip
    account = by_principal['{"AWS": "arn:aws:iam::123456789012:root"}']
    assert (account["Effect"], account["Action"], account["Resource"]) == ("Allow", "kms:*", "*")
    alarms_statement = by_principal[json.dumps({"Service": "cloudwatch.amazonaws.com"})]
    assert alarms_statement["Action"] == TOPIC_KEY_ACTIONS == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert (alarms_statement["Effect"], alarms_statement["Resource"]) == ("Allow", "*")
    assert "Condition" not in alarms_statement


def test_the_key_alias_and_topic_are_valid_kms_and_sns_requests(prod):
    key = prod.one(KEY, f"{PROD_NAME}-alarms-key")
    _validate_with("kms", "CreateKey", {
        "Policy": key.inputs["policy"], "Description": key.inputs["description"], "KeyUsage": "ENCRYPT_DECRYPT",
        "KeySpec": "SYMMETRIC_DEFAULT",  # SNS encrypts only with symmetric keys (SNS guide, "Key management")
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in key.inputs["tags"].items()]})  # fmt: skip
    _validate_with("kms", "EnableKeyRotation", {"KeyId": key.outputs["keyId"]})
    _validate_with(
        "kms",
        "ScheduleKeyDeletion",
        {"KeyId": key.outputs["keyId"], "PendingWindowInDays": int(key.inputs["deletionWindowInDays"])},
    )
    alias = prod.one(ALIAS, f"{PROD_NAME}-alarms-key-alias")
    named = alias.inputs["namePrefix"] + "0a1b2c3"  # the provider appends a unique suffix to the prefix
    _validate_with("kms", "CreateAlias", {"AliasName": named, "TargetKeyId": alias.inputs["targetKeyId"]})
    shape = botocore.session.get_session().get_service_model("kms").operation_model("CreateAlias").input_shape
    assert re.fullmatch(shape.members["AliasName"].metadata["pattern"].strip("^$"), named)
    assert named.startswith("alias/") and not named.startswith("alias/aws/")  # aws/ is reserved for AWS's keys
    topic = prod.one(TOPIC, f"{PROD_NAME}-alarms")
    attributes = {"KmsMasterKeyId": topic.inputs["kmsMasterKeyId"]}
    _validate_with("sns", "CreateTopic", {"Name": f"{PROD_NAME}-alarms-0a1b2c3", "Attributes": attributes})


def test_without_monitoring_there_is_no_topic_and_no_key():
    mocks = harness.build_component("quiet", {"monitoring": False})
    assert mocks.of_type(TOPIC) == mocks.of_type(KEY) == mocks.of_type(ALIAS) == []
