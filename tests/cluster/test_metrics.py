"""Airflow's own metrics (cluster/metrics.py) against the pinned Airflow: its registry, its allow-list check, the
code that emits each metric in the role we say, and the agent's config against its documented keys."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.metrics import (
    AGENT_IMAGE,
    AIRFLOW_METRICS,
    EMITTING_ROLES,
    STATSD_PORT,
    agent_config,
    allow_list,
    allowed,
    published_names,
)
from airflow_celery.cluster.roles import ROLES
from tests.cluster_settings import settings_with

AIRFLOW_DIR = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])
REGISTRY = AIRFLOW_DIR / "_shared/observability/metrics/metrics_template.yaml"
"""Airflow's list of every metric it emits, with each one's type and legacy name (read as a file: no import)."""
EMITTERS = {
    "scheduler": ["jobs/scheduler_job_runner.py", "executors/base_executor.py"],
    "dag-processor": ["jobs/dag_processor_job_runner.py", "dag_processing/manager.py"],
    "triggerer": ["jobs/triggerer_job_runner.py"],
    "worker": ["sdk/execution_time/task_runner.py"],
}
"""Where the pinned Airflow emits the metrics of each role: the scheduler job (with its executor), the
dag-processor job and its manager, the triggerer job, the task runner in a worker's task process."""
TYPES = {"counter": "counter", "gauge": "gauge", "timer": "timing"}


def _registry() -> dict[str, dict]:
    return {m["name"]: m for m in yaml.safe_load(REGISTRY.read_text())["metrics"]}


@pytest.mark.parametrize("metric", AIRFLOW_METRICS, ids=lambda m: m.name)
def test_every_metric_is_in_airflows_registry_with_its_type(metric):
    entry = _registry()[metric.name]
    assert TYPES[entry["type"]] == metric.kind
    if metric.per_pool:  # the per-pool name is the registry's legacy name
        assert entry["legacy_name"] == f"{metric.name}.{{pool_name}}"


@pytest.mark.parametrize("metric", AIRFLOW_METRICS, ids=lambda m: m.name)
def test_every_metric_is_emitted_by_the_role_we_name(metric):
    sources = "".join((AIRFLOW_DIR / path).read_text() for path in EMITTERS[metric.role])
    assert f'"{metric.name}"' in sources or f'("{metric.name}"' in sources, (metric.name, metric.role)


def test_the_issue_s_metrics_are_all_there():
    names = {m.name for m in AIRFLOW_METRICS}
    assert {"scheduler.scheduler_loop_duration", "executor.open_slots", "executor.queued_tasks", "pool.open_slots",
            "task_instances_without_heartbeats_killed", "task.duration", "dag_processing.import_errors",
            "triggerer_heartbeat", "scheduler_heartbeat"} <= names  # fmt: skip
    assert len(published_names()) == 16  # what plan prices: 13 + 3 for the default pool


def test_the_allow_list_lets_through_exactly_the_catalogue():
    assert "," not in "".join(m.allow_pattern() for m in AIRFLOW_METRICS)  # the list's separator
    assert '"' not in allow_list() and "\\" not in allow_list()  # supervisord's environment syntax
    for metric in AIRFLOW_METRICS:
        name = f"{metric.name}.default_pool" if metric.per_pool else metric.name
        assert allowed(name), name
    registry = _registry()
    ours = {m.name for m in AIRFLOW_METRICS}
    for name, entry in registry.items():
        if name not in ours and "{" not in name:
            assert not allowed(name), name
        legacy = entry.get("legacy_name", "-")
        if legacy != "-" and name not in {m.name for m in AIRFLOW_METRICS if m.per_pool}:
            # e.g. dag.{dag_id}.{task_id}.duration: one metric per DAG and task, never published
            assert not allowed(legacy.format_map(_Filled())), legacy
    assert not allowed("pool.open_slots")  # the tagged name aggregates every pool: only the per-pool ones


class _Filled(dict):
    def __missing__(self, key: str) -> str:
        return f"some_{key}"


@pytest.mark.airflow
def test_airflows_own_validator_agrees():
    """The allow-list through Airflow's own PatternAllowListValidator, built as get_statsd_logger builds it."""
    from airflow._shared.observability.metrics.validators import get_validator

    validator = get_validator(allow_list(), None)
    for metric in AIRFLOW_METRICS:
        name = f"{metric.name}.default_pool" if metric.per_pool else metric.name
        assert validator.test(name) == allowed(name) is True
    for name in ("dag.demo.task.duration", "ti.finish", "executor.open_slots.CeleryExecutor", "pool.open_slots",
                 "scheduler.tasks.starving", "dagrun.duration.success.demo"):  # fmt: skip
        assert validator.test(name) is False


def test_only_the_emitting_roles_send_statsd_and_only_when_on():
    on = settings_with(execution_api_url="http://x/execution/", statsd_port=STATSD_PORT)
    off = settings_with(execution_api_url="http://x/execution/")
    assert set(EMITTING_ROLES) == {"scheduler", "dag-processor", "triggerer", "worker"}
    for r in ROLES:
        env = role_environment(r.name, on).plain
        assert ("AIRFLOW__METRICS__STATSD_ON" in env) == (r.name in EMITTING_ROLES), r.name
        assert "AIRFLOW__METRICS__STATSD_ON" not in role_environment(r.name, off).plain
    scheduler = role_environment("scheduler", on).plain
    assert scheduler["AIRFLOW__METRICS__STATSD_HOST"] == "127.0.0.1"
    assert scheduler["AIRFLOW__METRICS__LEGACY_NAMES_ON"] == "True"


def _agent_schema() -> dict:
    """The CloudWatch agent's config schema at the tag we pin (aws/amazon-cloudwatch-agent,
    translator/config/schema.json), kept in tests/cluster/cloudwatch_agent_schema.json."""
    return json.loads((Path(__file__).parent / "cloudwatch_agent_schema.json").read_text())


def test_the_agent_config_uses_only_keys_its_schema_knows():
    """The agent refuses a config with an unknown key ("Additional property ... is not allowed"): each key we
    set is one its schema declares, with a value of the declared type and range."""
    import jsonschema

    jsonschema.validate(agent_config("AirflowCelery/x", "us-east-1"), _agent_schema())


def test_the_agent_image_is_pinned_by_digest():
    assert re.fullmatch(r"public\.ecr\.aws/cloudwatch-agent/cloudwatch-agent:[\w.]+@sha256:[0-9a-f]{64}", AGENT_IMAGE)
