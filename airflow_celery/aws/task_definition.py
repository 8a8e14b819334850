"""ECS container definitions built from the cluster description: pure functions, no Pulumi.

The component calls `container_definitions_json` inside an `Output.all(...).apply(...)` once the image
digest, ARNs and names are known; tests call it directly with plain strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_celery.aws import airflow_metrics
from airflow_celery.aws.dag_source import credential_secret
from airflow_celery.cluster.env import EnvSettings, role_environment
from airflow_celery.cluster.roles import REDIS_DATA, CommandCheck, HttpCheck, Kind, Role, sidecars_of
from airflow_celery.cluster.secrets import SecretName


@dataclass(frozen=True)
class TaskInputs:
    """Everything a container definition needs besides the role itself, as plain values."""

    image: str
    """Our image, by digest (repo@sha256:...)."""
    settings: EnvSettings
    secret_arns: Mapping[SecretName, str]
    log_groups: Mapping[str, str]
    """Role name -> CloudWatch log group name."""
    region: str
    secret_versions: Mapping[SecretName, str] = field(default_factory=dict)
    """Secret name -> the Secrets Manager version id of its current value (not the value)."""
    airflow_metrics_namespace: str | None = None
    """The CloudWatch namespace Airflow's metrics go to (config airflow_metrics), or None: no metrics agent."""
    dag_git_secret_arn: str | None = None
    """The git credential's secret (aws/dag_source.py): given to the roles that fetch DAGs only."""


SECRET_VERSIONS_LABEL = "airflow-celery.secret-versions"
"""A container label that changes whenever a secret the container reads gets a new value. Containers read
secrets by ARN, which never changes; the label makes a new value a new task definition revision, so ECS rolls
exactly the services that read it."""


def secret_versions_label(secrets: Mapping[str, SecretName], versions: Mapping[SecretName, str]) -> str:
    """A digest of the version ids of the secrets a container reads (ids, never values)."""
    listed = "\n".join(f"{name}={versions.get(name, '')}" for name in sorted(set(secrets.values())))
    return hashlib.sha256(listed.encode()).hexdigest()[:32]


def sidecars_running_with(role_name: str, settings: EnvSettings) -> tuple[Role, ...]:
    """The SIDECAR roles in `role_name`'s task: in the scheduler's, the watchdog, and the autoscaler when workers
    autoscale (roles.py, `sidecars_of`)."""
    return sidecars_of(role_name, settings.autoscaling)


BROKER_VOLUME = "redis-data"
"""The task volume (EFS on ECS, aws/broker_storage.py) mounted at the redis image's data directory: the
append-only file outlives the task, which ECS replaces rather than restarts."""

SIDECAR_RESTART = {"enabled": True, "restartAttemptPeriod": 60}
"""A sidecar that exits is restarted in place (ECS container restart policy) instead of stopping the task:
it is not essential, and the scheduler next to it must keep running."""


def health_check(r: Role, settings: EnvSettings) -> dict[str, Any] | None:
    """The description's health check as an ECS container health check."""
    check = r.health
    if check is None:
        return None
    if isinstance(check, HttpCheck):
        command = check.shell(settings.port(r.name, check.port))
    elif isinstance(check, CommandCheck):
        command = check.shell
    else:  # pragma: no cover - the description only has these two
        raise TypeError(f"unknown health check {check!r} for role {r.name!r}")
    return {
        "command": ["CMD-SHELL", command],
        "interval": check.interval,
        "timeout": check.timeout,
        "retries": check.retries,
        "startPeriod": check.start_period,
    }


def _command(r: Role) -> list[str]:
    """Our image's ENTRYPOINT is the entrypoint, so its command is the role name; other images run theirs."""
    return list(r.command) if r.image else [r.name]


def container_definition(
    r: Role, inputs: TaskInputs, *, essential: bool = True, queue: str | None = None
) -> dict[str, Any]:
    """One container of role `r`; `queue` names an extra worker queue (cluster/queues.py) for a worker."""
    env = role_environment(r.name, inputs.settings, queue=queue)
    container: dict[str, Any] = {
        "name": r.name,
        "image": r.image or inputs.image,
        "essential": essential,
        "command": _command(r),
        "environment": [{"name": key, "value": value} for key, value in sorted(env.plain.items())],
        "secrets": [
            {"name": key, "valueFrom": inputs.secret_arns[secret]} for key, secret in sorted(env.secrets.items())
        ]
        + credential_secret(r.name, inputs.dag_git_secret_arn),
        "dockerLabels": {SECRET_VERSIONS_LABEL: secret_versions_label(env.secrets, inputs.secret_versions)},
        "portMappings": [
            {
                "name": f"{r.name}-{port.name}",
                "containerPort": inputs.settings.port(r.name, port.name),
                "protocol": "tcp",
            }
            for port in r.ports
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": inputs.log_groups[r.name],
                "awslogs-region": inputs.region,
                "awslogs-stream-prefix": f"{r.name}-{queue}" if queue else r.name,
            },
        },
    }
    check = health_check(r, inputs.settings)
    if check is not None:
        container["healthCheck"] = check
    if r.stop_timeout is not None:
        container["stopTimeout"] = r.stop_timeout
    if r.user is not None:
        container["user"] = r.user
    if r.kind is Kind.BROKER:
        container["mountPoints"] = [{"sourceVolume": BROKER_VOLUME, "containerPath": REDIS_DATA, "readOnly": False}]
    if r.kind is Kind.SIDECAR:
        container["memoryReservation"] = r.size.memory
        container["restartPolicy"] = dict(SIDECAR_RESTART)
    return container


def task_containers(r: Role, inputs: TaskInputs, queue: str | None = None) -> list[dict[str, Any]]:
    """The containers of `r`'s task: its own, plus its sidecars (the autoscaler in the scheduler's) and, with Airflow's
    metrics, the CloudWatch agent they go through (aws/airflow_metrics.py).

    No job runs inside a service's task: migrate is its own one-off task, run before any service changes
    (aws/migration.py)."""
    main = container_definition(r, inputs, queue=queue)
    sidecars = [
        container_definition(sidecar, inputs, essential=False)
        for sidecar in sidecars_running_with(r.name, inputs.settings)
    ]
    if airflow_metrics.runs_agent(r.name, inputs):
        sidecars.append({**airflow_metrics.agent_container(r.name, inputs), "restartPolicy": dict(SIDECAR_RESTART)})
    return [main, *sidecars]


def container_definitions_json(r: Role, inputs: TaskInputs, queue: str | None = None) -> str:
    return json.dumps(task_containers(r, inputs, queue))
