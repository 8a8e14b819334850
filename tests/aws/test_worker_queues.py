"""Worker queues on ECS under mocks: per queue a service, task definition, task role, scaling and metrics; and a
stack without `worker_queues` registering what it always did."""

from __future__ import annotations

import json

import pytest

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, QUEUE_DIMENSION, CloudWatchSink, namespace
from airflow_celery.aws.args import ConfigError, resolve_args
from airflow_celery.aws.config import in_schema_terms
from airflow_celery.cluster.env import CONCURRENCY_VAR
from airflow_celery.cluster.queues import QUEUES_SCALING_VAR, WORKER_QUEUE_VAR, WORKER_QUEUES_VAR
from airflow_celery.cluster.scaling import Load
from tests.aws import assertions, harness
from tests.aws.conftest import DEV_ARGS, DEV_NAME

SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::heavy-inputs/*"]}]})  # fmt: skip
MANAGED = "arn:aws:iam::aws:policy/AmazonBedrockReadOnly"
QUEUES = {
    "heavy": {"cpu": 4096, "memory": 16384, "concurrency": 4, "min": 0, "max": 3, "capacity": "fargate",
              "policy": BUCKET_POLICY, "managed": [MANAGED]},
    "fixed": {"cpu": 512, "memory": 2048, "concurrency": 2, "count": 2, "capacity": "fargate-spot"},
}  # fmt: skip
ARGS = {**DEV_ARGS, "worker_capacity": "fargate-spot", "db_instance_class": "db.t4g.medium", "worker_queues": QUEUES}


@pytest.fixture(scope="module")
def queued() -> harness.RecordingMocks:
    return harness.build_component(DEV_NAME, ARGS)


@pytest.fixture(scope="module")
def plain() -> harness.RecordingMocks:
    return harness.build_component(DEV_NAME, {k: v for k, v in ARGS.items() if k != "worker_queues"})


def _worker(mocks, queue: str):
    task = mocks.one(TASK, f"{DEV_NAME}-worker-{queue}-task")
    (container,) = [c for c in mocks.container_definitions(task) if c["name"] == "worker"]
    return task, container, {e["name"]: e["value"] for e in container["environment"]}


def test_each_queue_has_its_own_service_task_definition_and_task_role(queued):
    for queue, settings in QUEUES.items():
        task, container, env = _worker(queued, queue)
        assert (task.inputs["cpu"], task.inputs["memory"]) == (str(settings["cpu"]), str(settings["memory"]))
        assert env[WORKER_QUEUE_VAR] == queue
        assert env[CONCURRENCY_VAR] == str(settings["concurrency"])
        assert container["command"] == ["worker"]  # the entrypoint adds `--queues <queue>` (tests/cluster)
        assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == f"worker-{queue}"
        role = queued.one(ROLE, f"{DEV_NAME}-worker-{queue}-task-role")
        assert task.inputs["taskRoleArn"] == role.outputs["arn"]
        service = queued.one(SERVICE, f"{DEV_NAME}-worker-{queue}-service")
        assert service.inputs["taskDefinition"] == task.outputs["arn"]
        default = queued.one(SERVICE, f"{DEV_NAME}-worker-service")
        assert service.inputs["networkConfiguration"] == default.inputs["networkConfiguration"]
    assert queued.one(SERVICE, f"{DEV_NAME}-worker-fixed-service").inputs["desiredCount"] == 2
    assert queued.one(SERVICE, f"{DEV_NAME}-worker-heavy-service").inputs["desiredCount"] == 0


def test_each_queue_runs_on_its_own_capacity(queued):
    def providers(name):
        strategy = queued.one(SERVICE, f"{DEV_NAME}-{name}-service").inputs["capacityProviderStrategies"]
        return [item["capacityProvider"] for item in strategy]

    assert providers("worker") == ["FARGATE_SPOT"]
    assert providers("worker-heavy") == ["FARGATE"]
    assert providers("worker-fixed") == ["FARGATE_SPOT"]


def test_a_queues_iam_extras_reach_only_its_own_task_role(queued):
    heavy = queued.one(ROLE, f"{DEV_NAME}-worker-heavy-task-role")
    inline = [p for p in queued.of_type(ROLE_POLICY) if p.inputs["policy"] == BUCKET_POLICY]
    assert [p.inputs["role"] for p in inline] == [heavy.id]
    managed = [a for a in queued.of_type(ATTACHMENT) if a.inputs["policyArn"] == MANAGED]
    assert [a.inputs["role"] for a in managed] == [heavy.outputs["name"]]


def test_each_queues_workers_may_protect_their_tasks_and_describe_only_their_service(queued):
    for named in ("worker", "worker-heavy", "worker-fixed"):
        policy = queued.one(ROLE_POLICY, f"{DEV_NAME}-{named}-task-role-protection")
        statements = json.loads(policy.inputs["policy"])["Statement"]
        actions = {a for s in statements for a in s["Action"]}
        assert {"ecs:UpdateTaskProtection", "ecs:DescribeServices"} <= actions
        (service,) = [s["Resource"][0] for s in statements if "ecs:DescribeServices" in s["Action"]]
        assert service.endswith(f"/{DEV_NAME}-{named}-service-*")


def test_an_autoscaling_queue_has_its_own_target_policy_and_alarm_on_its_queue_dimension(queued):
    target = queued.one(TARGET, f"{DEV_NAME}-worker-heavy-scaling")
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (0, 3)
    assert target.inputs["resourceId"] == f"service/{DEV_NAME}-cluster/{DEV_NAME}-worker-heavy-service"
    policy = queued.one(POLICY, f"{DEV_NAME}-worker-heavy-follow-desired")
    steps = policy.inputs["stepScalingPolicyConfiguration"]["stepAdjustments"]
    assert [s["scalingAdjustment"] for s in steps] == [0, 1, 2, 3]
    alarm = queued.one(ALARM, f"{DEV_NAME}-worker-heavy-desired")
    assert alarm.inputs["metricName"] == DESIRED_METRIC
    assert alarm.inputs["namespace"] == namespace(DEV_NAME)
    assert alarm.inputs["dimensions"] == {QUEUE_DIMENSION: "heavy"}
    assert alarm.inputs["alarmActions"] == [policy.outputs["arn"]]
    # A fixed queue (min == max) and a fixed default queue scale nothing.
    assert [t.name for t in queued.of_type(TARGET)] == [f"{DEV_NAME}-worker-heavy-scaling"]


def test_the_autoscaler_runs_for_a_queue_and_the_dag_processor_knows_every_queue(queued):
    scheduler = queued.one(TASK, f"{DEV_NAME}-scheduler-task")
    containers = {c["name"]: c for c in queued.container_definitions(scheduler)}
    env = {e["name"]: e["value"] for e in containers["autoscaler"]["environment"]}
    assert env[QUEUES_SCALING_VAR] == "heavy=0:3:4"
    processor = queued.one(TASK, f"{DEV_NAME}-dag-processor-task")
    container = next(c for c in queued.container_definitions(processor) if c["name"] == "dag-processor")
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env[WORKER_QUEUES_VAR] == "default,fixed,heavy"


def test_parallelism_and_the_default_pool_sum_every_queue_at_its_max(queued):
    _, _, env = _worker(queued, "heavy")
    expected = 1 * 16 + 3 * 4 + 2 * 2
    assert env["AIRFLOW__CORE__PARALLELISM"] == env["AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT"] == str(expected)


SUMMED = {f"{DEV_NAME}-{role}-task" for role in ("api-server", "scheduler", "dag-processor", "triggerer", "worker",
                                                 "flower", "migrate", "housekeeping")}  # fmt: skip
"""Every Airflow container reads parallelism and the default pool, which sum the queues (and the scheduler's task
gains the autoscaler sidecar, the dag-processor's the queue list)."""
FOLLOWING = {
    f"{DEV_NAME}-migrate-step",  # it starts the new task definitions
    f"{DEV_NAME}-migrate-runner-policy",  # it may pass the scheduler's own task role, new with the autoscaler
    f"{DEV_NAME}-alarm-db-connections",  # its threshold is the connection budget, which sums the queues
}


def _inputs(record) -> dict:
    """Inputs as the engine compares them: an asset archive by its contents' identity is left out (a new object
    each build)."""
    return {key: value for key, value in record.inputs.items() if key != "code"}


def test_a_queue_adds_its_own_resources_and_changes_no_other_but_the_summed_settings(queued, plain):
    """Every resource of the stack without queues keeps its URN, and its inputs but for the cluster-wide numbers
    that sum the queues."""
    before = {r.urn: r for r in plain.records}
    after = {r.urn: r for r in queued.records}
    assert set(before) <= set(after)
    added = {after[urn].name for urn in set(after) - set(before)}
    own = ("-worker-heavy-", "-worker-fixed-", "-autoscaler-", "-scheduler-task-role")  # the sidecar's log and role
    assert all(any(part in name for part in own) for name in added), added
    changed = {before[urn].name for urn in before if _inputs(before[urn]) != _inputs(after[urn])}
    assert changed <= SUMMED | FOLLOWING, changed - SUMMED - FOLLOWING


def test_the_queued_stack_passes_the_stack_wide_checks(queued):
    assertions.assert_no_secret_in_plain_sight(queued)
    assertions.assert_task_definitions_valid_for_ecs(queued)
    assertions.assert_fargate_sizes(queued)


def test_the_cloudwatch_sink_publishes_an_extra_queue_with_its_dimension():
    calls = []

    class Client:
        def put_metric_data(self, **kw):
            calls.append(kw)

    CloudWatchSink("ns", client=Client(), queue="heavy").apply(Load(queued=3, running=1), 1)
    CloudWatchSink("ns", client=Client()).apply(Load(queued=0, running=0), 0)
    assert {tuple(map(tuple, (d.items() for d in m.get("Dimensions", [])))) for m in calls[0]["MetricData"]} == {
        ((("Name", "Queue"), ("Value", "heavy")),)
    }
    assert all("Dimensions" not in m for m in calls[1]["MetricData"])


@pytest.mark.parametrize(
    ("queues", "key"),
    [
        ({"Heavy": {}}, "airflow-celery:workerQueues.Heavy"),
        ({"a,b": {}}, "airflow-celery:workerQueues.a,b"),
        ({"default": {"max": 3}}, "airflow-celery:workerQueues.default"),
        ({"heavy": {"cpu": 4096, "memory": 4096}}, "airflow-celery:workerQueues.heavy"),
        ({"heavy": {"memory": 2048, "concurrency": 30}}, "airflow-celery:workerQueues.heavy.concurrency"),
        ({"heavy": {"capacity": "spot"}}, "airflow-celery:workerQueues.heavy.capacity"),
        ({"heavy": {"min": 2, "max": 1}}, "airflow-celery:workerQueues.heavy.min"),
        ({"heavy": {"policy": "not json"}}, "airflow-celery:workerQueues.heavy.policy"),
        ({"heavy": {"managed": ["AmazonS3ReadOnlyAccess"]}}, "airflow-celery:workerQueues.heavy.managed[0]"),
        ({"heavy": {"min": 0, "max": 40, "concurrency": 16, "cpu": 4096, "memory": 16384}},
         "airflow-celery:dbInstanceClass"),
    ],
)  # fmt: skip
def test_a_bad_queue_is_refused_naming_the_config_key_and_the_queue(queues, key):
    with pytest.raises(ConfigError) as raised:
        resolve_args(DEV_NAME, {"worker_queues": queues})
    assert in_schema_terms(raised.value, "airflow-celery:").key == key
    if key.endswith("dbInstanceClass"):
        assert "worker heavy 40 x 17" in str(raised.value)


def test_a_stack_without_the_key_resolves_to_no_queue():
    assert resolve_args(DEV_NAME, {}).worker_queues == ()
    assert resolve_args(DEV_NAME, {"worker_queues": {}}).worker_queues == ()


def test_the_readmes_worker_queues_example_deploys_a_heavy_on_demand_queue_beside_a_spot_default():
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Worker queues") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)[1]
    given = {key.removeprefix("airflow-celery:"): value for key, value in yaml.safe_load(block)["config"].items()}
    snake = {re.sub(r"(?<=[a-z])([A-Z])", r"_\1", key).lower(): value for key, value in given.items()}
    mocks = harness.build_component(DEV_NAME, snake)
    heavy = mocks.one(TASK, f"{DEV_NAME}-worker-heavy-task")
    assert (heavy.inputs["cpu"], heavy.inputs["memory"]) == ("4096", "16384")
    strategy = mocks.one(SERVICE, f"{DEV_NAME}-worker-heavy-service").inputs["capacityProviderStrategies"]
    assert [item["capacityProvider"] for item in strategy] == ["FARGATE"]
    assert mocks.one(SERVICE, f"{DEV_NAME}-worker-heavy-service").inputs["desiredCount"] == 0
    default = mocks.one(SERVICE, f"{DEV_NAME}-worker-service").inputs["capacityProviderStrategies"]
    assert [item["capacityProvider"] for item in default] == ["FARGATE_SPOT"]
