"""Airflow's own metrics: which ones leave the cluster, how, and where they land.

Airflow 3.3 emits StatsD or OpenTelemetry metrics. StatsD it is: the CloudWatch agent listens for StatsD natively
and publishes with PutMetricData (plain custom metrics, no log ingestion on top, as OpenTelemetry through an ADOT
collector's EMF exporter would add), so the agent's task role needs exactly `cloudwatch:PutMetricData` into the
deployment's namespace. Locally, the same StatsD packets go to a small receiver program (local/metrics_receiver.py).

Every metric is billed as a CloudWatch custom metric per name and dimension set, whether it is plotted or not, so
only the catalogue below leaves a process: Airflow's `[metrics] metrics_allow_list` (regular expressions matched
with `re.findall` on the lower-cased name, comma-separated; airflow/_shared/observability/metrics/validators.py)
is generated from it, anchored so that no other name, and no legacy name with a DAG or task id in it, matches.
Plain StatsD, no tags: Airflow drops the tags (statsd_logger.py `prepare_stat_with_tags` adds them only in
InfluxDB mode), so a task's duration is one metric for the whole cluster, not one per DAG and task. Pools are the
exception: their per-pool legacy names (`pool.open_slots.<pool>`, `[metrics] legacy_names_on`) are allowed, one
metric per pool and measure. Names come from Airflow's registry (airflow/_shared/observability/metrics/
metrics_template.yaml); tests check every entry against it and against the pinned emitting code.

Standard library only, like the rest of the description.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from airflow_celery.cluster.roles import DAG_PROCESSOR, SCHEDULER, TRIGGERER, WORKER

STATSD_HOST = "127.0.0.1"
"""Where every emitting process sends: the agent in the same ECS task (awsvpc tasks share one network namespace),
or the local receiver. Never another host: UDP to a sidecar needs no security-group rule."""
STATSD_PORT = 8125
"""The StatsD port: the CloudWatch agent's default and Airflow's `[metrics] statsd_port` default."""
STATSD_PREFIX = "airflow"
"""Airflow's default `[metrics] statsd_prefix`: every name below is sent as `airflow.<name>`."""
METRICS_PORT_KEY = "metrics.statsd"
"""The local receiver's port as a `--port` key (local mode's ports are "role.port" keys)."""
RECEIVER_NAME = "metrics"
"""The local receiver's program name."""


class StatsdType:
    """A StatsD type, as the CloudWatch agent names it in the `metric_type` dimension it adds to every metric
    (amazon-cloudwatch-agent, plugins/inputs/statsd/statsd.go: counter, gauge, timing)."""

    COUNTER = "counter"
    GAUGE = "gauge"
    TIMING = "timing"


@dataclass(frozen=True)
class AirflowMetric:
    """One metric of Airflow's registry that the cluster publishes."""

    name: str
    """The registry's name (without the StatsD prefix); with `per_pool`, the pool's name follows it."""
    kind: str
    role: str
    """The role whose processes emit it."""
    why: str
    per_pool: bool = False

    def allow_pattern(self) -> str:
        """The `metrics_allow_list` entry: this name only (a pool's name after it with `per_pool`). `[.]` rather
        than a backslash: the list passes supervisord's environment syntax unchanged; no comma, the separator."""
        escaped = self.name.replace(".", "[.]")
        return f"^{escaped}[.][a-z0-9_-]+$" if self.per_pool else f"^{escaped}$"

    def published_name(self, pool: str | None = None) -> str:
        """The CloudWatch metric name: the StatsD name with its prefix, dots kept (the agent's metric_separator)."""
        name = f"{STATSD_PREFIX}.{self.name}"
        return f"{name}.{pool}" if self.per_pool else name

    @property
    def dimensions(self) -> dict[str, str]:
        """The agent publishes tags as dimensions; untagged StatsD has only the type it adds itself."""
        return {"metric_type": self.kind}


AIRFLOW_METRICS: tuple[AirflowMetric, ...] = (
    AirflowMetric("scheduler_heartbeat", StatsdType.COUNTER, SCHEDULER.name,
                  "one per scheduler job heartbeat (every few seconds): none for minutes means no scheduler runs"),
    AirflowMetric("scheduler.scheduler_loop_duration", StatsdType.TIMING, SCHEDULER.name,
                  "milliseconds of one scheduler loop: a slow database or too many DAG runs stretch it"),
    AirflowMetric("executor.open_slots", StatsdType.GAUGE, SCHEDULER.name,
                  "slots [core] parallelism still allows: 0 means tasks wait for the cluster, not for workers"),
    AirflowMetric("executor.queued_tasks", StatsdType.GAUGE, SCHEDULER.name,
                  "tasks the executor holds that no worker took yet"),
    AirflowMetric("executor.running_tasks", StatsdType.GAUGE, SCHEDULER.name, "tasks running on the workers"),
    AirflowMetric("pool.open_slots", StatsdType.GAUGE, SCHEDULER.name, "a pool's free slots", per_pool=True),
    AirflowMetric("pool.queued_slots", StatsdType.GAUGE, SCHEDULER.name, "a pool's queued tasks", per_pool=True),
    AirflowMetric("pool.running_slots", StatsdType.GAUGE, SCHEDULER.name, "a pool's running tasks", per_pool=True),
    AirflowMetric("task_instances_without_heartbeats_killed", StatsdType.COUNTER, SCHEDULER.name,
                  "running tasks the scheduler failed because their heartbeats stopped (a lost worker, OOM)"),
    AirflowMetric("dag_processor_heartbeat", StatsdType.COUNTER, DAG_PROCESSOR.name,
                  "one per dag-processor heartbeat: none means nothing parses DAG files"),
    AirflowMetric("dag_processing.import_errors", StatsdType.GAUGE, DAG_PROCESSOR.name,
                  "DAG files that fail to import (their DAGs are not updated)"),
    AirflowMetric("triggerer_heartbeat", StatsdType.COUNTER, TRIGGERER.name,
                  "one per triggerer heartbeat: none means deferred tasks never resume"),
    AirflowMetric("triggers.running", StatsdType.GAUGE, TRIGGERER.name, "triggers a triggerer runs"),
    AirflowMetric("triggers.blocked_main_thread", StatsdType.COUNTER, TRIGGERER.name,
                  "triggers that blocked the triggerer's event loop (not truly asynchronous code)"),
    AirflowMetric("triggers.failed", StatsdType.COUNTER, TRIGGERER.name, "triggers that errored before they fired"),
    AirflowMetric("task.duration", StatsdType.TIMING, WORKER.name,
                  "milliseconds a task ran, from its own process on the worker (all tasks together)"),
)  # fmt: skip

DEFAULT_POOLS = ("default_pool",)
"""The pools every cluster has; each more pool adds one metric per per-pool measure."""
EMITTING_ROLES: tuple[str, ...] = tuple(dict.fromkeys(m.role for m in AIRFLOW_METRICS))
"""The roles whose tasks get a metrics agent on ECS and send StatsD: scheduler, dag-processor, triggerer, worker."""


def metric(name: str) -> AirflowMetric:
    for found in AIRFLOW_METRICS:
        if found.name == name:
            return found
    raise KeyError(f"no published Airflow metric {name!r}")


def allow_list() -> str:
    """Airflow's `[metrics] metrics_allow_list` for the catalogue."""
    return ",".join(m.allow_pattern() for m in AIRFLOW_METRICS)


def allowed(stat: str) -> bool:
    """Whether Airflow's allow-list check (PatternAllowListValidator) lets `stat` through: re.findall of each
    lower-cased entry on the stripped, lower-cased name."""
    entries = (item.strip().lower() for item in allow_list().split(","))
    return any(re.findall(entry, stat.strip().lower()) for entry in entries)


def published_names(pools: tuple[str, ...] = DEFAULT_POOLS) -> list[str]:
    """Every CloudWatch metric name the catalogue publishes for these pools."""
    names = []
    for m in AIRFLOW_METRICS:
        names += [m.published_name(pool) for pool in pools] if m.per_pool else [m.published_name()]
    return names


def statsd_environment(port: int) -> dict[str, str]:
    """The `[metrics]` settings of an emitting role."""
    return {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": STATSD_HOST,
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "AIRFLOW__METRICS__STATSD_PREFIX": STATSD_PREFIX,
        "AIRFLOW__METRICS__METRICS_ALLOW_LIST": allow_list(),
        # Explicit: the per-pool names are legacy names (Airflow's default, True, may change).
        "AIRFLOW__METRICS__LEGACY_NAMES_ON": "True",
    }


# --- the CloudWatch agent: the ECS sidecar that turns the StatsD packets into CloudWatch metrics ---------------

AGENT_IMAGE = (
    "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.247360.0b252689"
    "@sha256:888fed6f7fb12948ec015ee4bdbbb759f044a569f5d2d49fb4dd0e49e747df31"
)
"""Amazon's CloudWatch agent from ECR Public (no Docker Hub pull limit), pinned by digest. The digest is the only
one a public source gives with its tag (a `kubectl describe` of this image, "Image ID"); this machine cannot reach
a registry, so neither the pull nor its architectures are verified here. Re-pin it to a current release's digest
with Docker (`docker buildx imagetools inspect`, as `make pin-base-image` does for Airflow's image) before
production. A version before the agent's
entity processor, which newer agents inject into a StatsD pipeline on EC2 only (not in a container or on ECS:
translator/translate/otel/pipeline/host/translator.go; aws/amazon-cloudwatch-agent#2180)."""
AGENT_CONTAINER = "metrics-agent"
AGENT_MEMORY_MIB = 64
"""Its memory reservation inside the role's task (a Go binary with one StatsD listener); not a task size."""
AGENT_CONFIG_VAR = "CW_CONFIG_CONTENT"
"""The agent's image reads its whole JSON config from this variable: no custom image, no SSM parameter."""
COLLECTION_SECONDS = 10
"""How often the agent's StatsD input hands its aggregates on (its default)."""
AGGREGATION_SECONDS = 60
"""One data point per metric and minute: standard resolution, the price of a custom metric."""
FLUSH_SECONDS = 60
"""The agent's default force_flush_interval: at most one PutMetricData call per minute and agent (up to 1000
data points each), which `plan` prices."""


def agent_config(namespace: str, region: str, port: int = STATSD_PORT) -> dict:
    """The agent's config: a StatsD listener on the task's loopback only, publishing into `namespace`.

    `metric_separator` "." keeps Airflow's names as they are (the agent's default "_" joins a name's dotted parts
    with underscores: plugins/inputs/statsd/statsd.go and graphite/parser.go). `omit_hostname`: no host dimension,
    so every task of a role publishes the same metric (it is the default in a container; explicit here)."""
    return {
        "agent": {"region": region, "omit_hostname": True},
        "metrics": {
            "namespace": namespace,
            "force_flush_interval": FLUSH_SECONDS,
            "metrics_collected": {
                "statsd": {
                    "service_address": f"{STATSD_HOST}:{port}",
                    "metrics_collection_interval": COLLECTION_SECONDS,
                    "metrics_aggregation_interval": AGGREGATION_SECONDS,
                    "metric_separator": ".",
                }
            },
        },
    }


def agent_config_json(namespace: str, region: str, port: int = STATSD_PORT) -> str:
    return json.dumps(agent_config(namespace, region, port), sort_keys=True)
