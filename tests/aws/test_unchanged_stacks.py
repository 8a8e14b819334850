"""A stack that does not use a new argument deploys exactly what it did before: same resources (URNs), same inputs.

`stacks_before_worker_queues.json` was recorded from main just before worker queues were merged (89aefe0): for
dev and prod as their stack files define them, every resource's URN and a hash of its inputs. Pulumi replaces or
updates a resource when its URN or its inputs change, so equal fingerprints mean `pulumi up` on an existing stack
that does not set `workerQueues` changes nothing. Only two inputs are left out, because they follow the package's
code rather than the config: the image's build-context folder (named by a hash of the files) and the migrate
runner's code archive.

Rewrite the file (`python -m tests.aws.test_unchanged_stacks`) only for a change to the stacks that was meant and
reviewed, and say so in the commit.

One change since the recording is meant, and named here rather than re-recorded: with monitoring (prod; dev turns
it off) the alarms' topic is encrypted with its own customer-managed key instead of SNS's AWS-managed
`alias/aws/sns`, whose key policy does not admit CloudWatch's alarm actions, so every alarm notification was dropped
(aws/alarms.py `topic_key`, README "Operating the cluster"). So prod adds exactly the key and its alias, and the
topic's inputs equal the recorded ones once its `kmsMasterKeyId` (now the key's ARN) is put back to the recorded
value; every other resource of both stacks must still match its fingerprint. A new recording takes the key in,
and this masking (`as_recorded`, RECORDED_TOPIC_KEY) goes with it.

A second change is meant: the scheduler's container gets `AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME`
(cluster/limits.py, SCHEDULER_IDLE_SLEEP_SECONDS: a freed slot waited up to Airflow's 1 s idle sleep to be refilled).
`as_recorded` takes that one environment entry out of the text it hashes (IDLE_SLEEP_ENTRY), and a test below checks
that the scheduler's task definitions are the only resources it changes.

A third change is meant: every Airflow container's `AIRFLOW__CORE__AUTH_MANAGER` names FAB's auth manager through
our subclass, whose token check no longer blocks the api-server's event loop when the database pool is fully in use
(api_server/auth_manager.py). `as_recorded` puts FAB's own class path back (RECORDED_AUTH_MANAGER), and a test below
checks that the value changed everywhere it was.

A fourth change is meant: dev's Airflow containers heartbeat every 5 s instead of every 1 s (prod already did), since
the task supervisors are woken by their task's exit and a 5 s heartbeat no longer holds a freed slot
(cluster/limits.py, MIN_HEARTBEAT_INTERVAL_SECONDS); `[workers] max_failed_heartbeats` follows (46 -> 37, the same
outage outlasted). `as_recorded` puts dev's recorded values back (RECORDED_HEARTBEATS), and a test below checks that
every Airflow container of dev changed and none of prod's.

A fifth change is meant: with DAGs baked into the image (both stacks), the workers' containers get
`AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_INTERVAL=0`, so `airflow celery worker` no longer forks a sweeper
process that finds no versioned bundle to sweep (cluster/dag_source.py, NO_CLEANUP: 43 MiB per worker).
`as_recorded` takes that one entry out (NO_CLEANUP_ENTRY), and a test below checks that the workers' task
definitions are the only resources that carry it, once per worker container.

A sixth change is meant: the schedulers' containers get `AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS` (our scheduler
config module) and `AIRFLOW__CELERY__RESULT_BACKEND_SQLALCHEMY_ENGINE_OPTIONS`, which keep one pooled result-backend
engine instead of a new engine and database connection for every read of the tasks' states
(airflow_celery/scheduler/result_sessions.py). `as_recorded` takes those two entries out (SCHEDULER_RESULT_ENTRIES),
and a test below checks that the schedulers' task definitions are the only resources that carry them.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from airflow_celery.cluster.env import (
    CELERY_CONFIG_VAR,
    FAB_AUTH_MANAGER,
    RESULT_ENGINE_OPTIONS_VAR,
    SCHEDULER_CELERY_CONFIG,
    SCHEDULER_RESULT_ENGINE_OPTIONS,
)
from tests.aws import assertions
from tests.aws.test_stacks import STACKS, deploy

FINGERPRINTS = Path(__file__).with_name("stacks_before_worker_queues.json")
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
RECORDED_TOPIC_KEY = "alias/aws/sns"
"""The alarms' topic's kmsMasterKeyId when the fingerprints were recorded (the AWS-managed key)."""
IDLE_SLEEP_ENTRY = re.compile(
    r'\{\\"name\\": \\"AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME\\", \\"value\\": \\"[0-9.]+\\"\}, '
)
"""The scheduler's idle-sleep entry as it appears in a task definition's containerDefinitions (JSON in JSON)."""
NO_CLEANUP_ENTRY = re.compile(
    r'\{\\"name\\": \\"AIRFLOW__DAG_PROCESSOR__STALE_BUNDLE_CLEANUP_INTERVAL\\", \\"value\\": \\"0\\"\}, '
)
"""The workers' entry that turns the stale-version cleanup off, as in a task definition's containerDefinitions."""
SCHEDULER_RESULT_ENTRIES = re.compile(
    "|".join(
        re.escape(json.dumps(json.dumps({"name": name, "value": value}))[1:-1] + ", ")
        for name, value in (
            (CELERY_CONFIG_VAR, SCHEDULER_CELERY_CONFIG),
            (RESULT_ENGINE_OPTIONS_VAR, json.dumps(SCHEDULER_RESULT_ENGINE_OPTIONS, separators=(",", ":"))),
        )
    )
)
"""The schedulers' two result-session entries, as they appear in a task definition's containerDefinitions."""
RECORDED_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
"""`[core] auth_manager` when the fingerprints were recorded: FAB's own class."""
RECORDED_HEARTBEATS = {"dev": {"MIN_HEARTBEAT_INTERVAL": ("5", "1"), "MAX_FAILED_HEARTBEATS": ("37", "46")}}
"""Per stack, `[workers]` entries whose value changed since the recording: (now, recorded)."""
_CODE_FOLLOWERS = (
    (re.compile(r"/tmp/airflow-celery-build/[0-9a-f]+"), "<build context>"),
    (re.compile(r"<pulumi\.asset\.AssetArchive object at 0x[0-9a-f]+>"), "<code archive>"),
)


def heartbeat_entry(name: str, value: str) -> str:
    """A `[workers]` environment entry as it appears in a task definition's containerDefinitions (JSON in JSON)."""
    entry = json.dumps({"name": f"AIRFLOW__WORKERS__{name}", "value": value})
    return json.dumps(entry)[1:-1]


def fingerprint(stack: str, as_recorded: bool = False) -> dict[str, str]:
    """URN -> sha256 of the resource's inputs (sorted JSON, code-following values masked). `as_recorded` leaves out
    the topic's key and alias and gives the topic its recorded key: the one change made on purpose since."""
    found = {}
    records = deploy(stack).mocks.records
    keys = {r.outputs["arn"] for r in records if r.type == KEY}
    for record in records:
        inputs = record.inputs
        if as_recorded and record.type in (KEY, ALIAS):
            continue
        if as_recorded and record.type == TOPIC and inputs.get("kmsMasterKeyId") in keys:
            inputs = {**inputs, "kmsMasterKeyId": RECORDED_TOPIC_KEY}
        text = json.dumps(inputs, sort_keys=True, default=str)
        if as_recorded:
            text = IDLE_SLEEP_ENTRY.sub("", text).replace(FAB_AUTH_MANAGER, RECORDED_AUTH_MANAGER)
            text = NO_CLEANUP_ENTRY.sub("", text)
            text = SCHEDULER_RESULT_ENTRIES.sub("", text)
            for name, (now, recorded) in RECORDED_HEARTBEATS.get(stack, {}).items():
                text = text.replace(heartbeat_entry(name, now), heartbeat_entry(name, recorded))
        for pattern, mask in _CODE_FOLLOWERS:
            text = pattern.sub(mask, text)
        found[record.urn] = hashlib.sha256(text.encode()).hexdigest()
    return found


def test_dev_and_prod_without_worker_queues_register_the_same_resources_with_the_same_inputs():
    before = json.loads(FINGERPRINTS.read_text())
    for stack in STACKS:
        now = fingerprint(stack, as_recorded=True)
        assert sorted(set(before[stack]) - set(now)) == [], f"{stack}: resources gone"
        assert sorted(set(now) - set(before[stack])) == [], f"{stack}: resources added"
        changed = sorted(urn.rsplit("::", 1)[-1] for urn in now if now[urn] != before[stack][urn])
        assert changed == [], f"{stack}: inputs changed"


def test_the_one_intended_change_is_the_alarms_topic_key_on_the_monitored_stack():
    """prod (monitoring on) adds exactly a KMS key and its alias, and its topic's kmsMasterKeyId changes from the
    recorded AWS-managed key to that key's ARN; dev (monitoring off) adds nothing."""
    before = json.loads(FINGERPRINTS.read_text())
    for stack in STACKS:
        mocks = deploy(stack).mocks
        added = {r.type: r.name for r in mocks.records if r.urn not in before[stack]}
        topics = mocks.of_type(TOPIC)
        if not topics:
            assert added == {}, stack
            continue
        (topic,) = topics
        (key,) = mocks.of_type(KEY)
        assert added == {KEY: key.name, ALIAS: f"{key.name}-alias"}, stack
        assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] != RECORDED_TOPIC_KEY
        assert fingerprint(stack)[topic.urn] != before[stack][topic.urn]  # the change is real, and only masked above


def assert_only_task_definitions_carry(pattern: re.Pattern, task_suffix: str, times: int) -> None:
    """In both stacks, the resources whose inputs contain `pattern` are task definitions named `*<task_suffix>`,
    at least one, and each contains it `times` times."""
    for stack in STACKS:
        records = deploy(stack).mocks.records
        found = {r.name: len(pattern.findall(json.dumps(r.inputs, default=str))) for r in records}
        found = {name: count for name, count in found.items() if count}
        assert found and all(name.endswith(task_suffix) for name in found), (stack, found)
        assert set(found.values()) == {times}, (stack, found)


def test_the_second_intended_change_is_the_schedulers_idle_sleep_in_its_task_definitions():
    assert_only_task_definitions_carry(IDLE_SLEEP_ENTRY, "-scheduler-task", 1)  # one container each: the scheduler


def test_the_third_intended_change_is_the_auth_manager_of_every_airflow_container():
    for stack in STACKS:
        records = deploy(stack).mocks.records
        texts = {r.name: json.dumps(r.inputs, default=str) for r in records}
        ours = {name for name, text in texts.items() if FAB_AUTH_MANAGER in text}
        assert not any(RECORDED_AUTH_MANAGER in text for text in texts.values()), stack
        assert ours and all(name.endswith("-task") for name in ours), (stack, ours)


def test_the_fourth_intended_change_is_devs_heartbeat_interval_in_every_airflow_container():
    """Every Airflow container of both stacks now carries 5 s and 37 failures, none the recorded 1 s and 46; only
    dev's entries are masked (prod's were 5 and 37 when recorded, and its fingerprints are compared unmasked)."""
    assert set(RECORDED_HEARTBEATS) == {"dev"}
    for stack in STACKS:
        for container in assertions.airflow_containers(deploy(stack).mocks):
            env = {item["name"]: item["value"] for item in container.get("environment", [])}
            now = {
                name: env[f"AIRFLOW__WORKERS__{name}"] for name in ("MIN_HEARTBEAT_INTERVAL", "MAX_FAILED_HEARTBEATS")
            }
            assert now == {"MIN_HEARTBEAT_INTERVAL": "5", "MAX_FAILED_HEARTBEATS": "37"}, (stack, container["name"])
    texts = [json.dumps(r.inputs, default=str) for r in deploy("dev").mocks.records]
    for name, (current, recorded) in RECORDED_HEARTBEATS["dev"].items():
        assert any(heartbeat_entry(name, current) in text for text in texts), name
        assert not any(heartbeat_entry(name, recorded) in text for text in texts), name


def test_the_fifth_intended_change_is_the_workers_cleanup_turned_off_with_the_image_source():
    assert_only_task_definitions_carry(NO_CLEANUP_ENTRY, "-worker-task", 1)


def test_the_sixth_intended_change_is_the_schedulers_pooled_result_sessions():
    assert_only_task_definitions_carry(SCHEDULER_RESULT_ENTRIES, "-scheduler-task", 2)  # both, in the scheduler


if __name__ == "__main__":
    FINGERPRINTS.write_text(json.dumps({s: fingerprint(s) for s in STACKS}, indent=1, sort_keys=True) + "\n")
    sys.exit(0)
