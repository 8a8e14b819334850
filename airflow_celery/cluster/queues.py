"""Worker queues: pools of Celery workers, each consuming exactly one Celery queue, with its own size, slots,
count range, capacity and permissions. Plain data, read by the AWS renderer, the local runner, the env contract
and the docs.

The `default` queue is today's worker service: built from the worker keys (worker_count, worker_concurrency,
role_sizes.worker, worker_capacity...), consumed by the WORKER role as before (`airflow celery worker` with no
`--queues` consumes `[operators] default_queue`), its resources named as before. Every other queue is an extra
pool: its workers run `airflow celery worker --queues NAME`, and its resources are named `worker-NAME-...`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

DEFAULT_QUEUE = "default"
"""Airflow's `[operators] default_queue`: the queue of every task that names none, consumed by the default pool."""

QUEUE_NAME = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,11}")
"""A queue name Celery, ECS and IAM all accept: lowercase letters, digits and single inner hyphens, 1-12 characters.

- Celery: `--queues` splits its value on commas (celery/bin/worker.py, `CommaSeparatedList`) and the Redis
  transport uses the name as a list key: no comma, no whitespace.
- AWS: the name becomes part of resource names (`<component>-worker-<queue>-task-role` plus Pulumi's 8-character
  suffix): IAM role names are capped at 64 characters (IAM CreateRole, RoleName), and the component's name at 20
  (aws/args.py, MAX_NAME_LENGTH): 20 + 8 (`-worker-`) + 12 + 10 (`-task-role`) + 8 = 58, with room for
  `-task-role-logs` policies. ECS service and task-definition family names allow letters, digits, hyphens and
  underscores; CloudWatch dimension values any text.
- The same name in a Celery node name (`worker-<queue>-<n>@host`) and a supervisord program name (local mode)."""

WORKER_QUEUE_VAR = "AIRFLOW_CELERY_WORKER_QUEUE"
"""Set in an extra queue's workers: the entrypoint adds `--queues <name>` to `airflow celery worker`."""
WORKER_QUEUES_VAR = "AIRFLOW_CELERY_WORKER_QUEUES"
"""Comma-separated: every queue some worker consumes. Read by the queue policy where DAGs are parsed."""
QUEUES_SCALING_VAR = "AIRFLOW_CELERY_QUEUES"
"""The extra queues that autoscale, `NAME=MIN:MAX:CONCURRENCY` comma-separated (local up's --queue syntax; no quote,
which supervisord's environment cannot carry): read by the autoscaler."""

CAPACITIES = ("fargate", "fargate-spot", "mixed")


@dataclass(frozen=True)
class WorkerQueue:
    """One pool of workers consuming one Celery queue."""

    name: str
    cpu: int
    memory: int
    concurrency: int
    min_count: int
    max_count: int
    count: int
    capacity: str = "fargate"
    """fargate (on-demand), fargate-spot, or mixed (min_count on-demand, the rest Spot)."""
    policy: str | None = None
    """An IAM policy document (JSON) attached inline to this queue's task role only."""
    managed_policy_arns: tuple[str, ...] = ()
    """Managed policies attached to this queue's task role only."""

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_QUEUE

    @property
    def autoscaling(self) -> bool:
        return self.min_count < self.max_count

    @property
    def slots(self) -> int:
        """Task slots at the most workers."""
        return self.max_count * self.concurrency

    @property
    def resource_name(self) -> str:
        """The name its AWS resources and local programs derive from: `worker` for the default queue (as before),
        `worker-<queue>` for the others."""
        return "worker" if self.is_default else f"worker-{self.name}"

    def policy_statements(self) -> list[dict]:
        return list(json.loads(self.policy)["Statement"]) if self.policy else []


@dataclass(frozen=True)
class QueueScaling:
    """What the env contract carries of an extra queue: its name and the inputs of the scaling rule."""

    name: str
    min_count: int
    max_count: int
    concurrency: int

    @property
    def autoscaling(self) -> bool:
        return self.min_count < self.max_count

    def as_text(self) -> str:
        return f"{self.name}={self.min_count}:{self.max_count}:{self.concurrency}"


def scaling_of(queue: WorkerQueue) -> QueueScaling:
    return QueueScaling(queue.name, queue.min_count, queue.max_count, queue.concurrency)


def queues_scaling_text(queues: tuple[QueueScaling, ...]) -> str:
    """The autoscaler's view of the extra queues that autoscale, as the env contract's text."""
    return ",".join(q.as_text() for q in queues if q.autoscaling)


def parse_queues_scaling(text: str) -> tuple[QueueScaling, ...]:
    """The text of `queues_scaling_text` back; a ValueError names the variable."""
    found = []
    for item in filter(None, text.split(",")):
        name, _, counts = item.partition("=")
        parts = counts.split(":")
        if not name or len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise ValueError(f"{QUEUES_SCALING_VAR}={text!r}: {item!r} is not NAME=MIN:MAX:CONCURRENCY")
        found.append(QueueScaling(name, int(parts[0]), int(parts[1]), int(parts[2])))
    return tuple(found)


def queue_names(extra: tuple[QueueScaling, ...] | tuple[WorkerQueue, ...]) -> tuple[str, ...]:
    """Every queue some worker consumes: the default one and the extra ones."""
    return (DEFAULT_QUEUE, *(q.name for q in extra))


def node_name(queue: str | None, instance: int, host: str) -> str:
    """A local worker's Celery node name: `worker-<n>@host` on the default queue, `worker-<queue>-<n>@host` else."""
    prefix = "worker" if queue in (None, DEFAULT_QUEUE) else f"worker-{queue}"
    return f"{prefix}-{instance}@{host}"
