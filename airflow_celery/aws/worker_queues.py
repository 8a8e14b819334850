"""The `worker_queues` argument: extra pools of workers, each on its own Celery queue (cluster/queues.py).

Checked here, before anything is registered, each failure one ConfigError naming `worker_queues.<queue>.<field>`
(the stack config's `airflow-celery:workerQueues.<queue>.<field>`), the value and what is allowed. The checks that
span every queue (the database's connections, the api-servers' heartbeat CPU) read the summed capacity
(cluster/limits.py, `Capacity.extra_queues`) in aws/args.py.
"""

# No `from __future__ import annotations`: resolve_args and Pulumi's schema inference read WorkerQueueArgs at run time.

import json
import re
from collections.abc import Mapping
from typing import Any, TypedDict

from airflow_celery.cluster.fargate import describe_allowed, is_fargate_size
from airflow_celery.cluster.limits import MEMORY_USABLE_SHARE, SLOT_MEMORY_MIB, QueueSlots, max_worker_concurrency
from airflow_celery.cluster.measured import MEASURED_ON, WORKER_MAIN_MEMORY_MIB
from airflow_celery.cluster.queues import CAPACITIES, DEFAULT_QUEUE, QUEUE_NAME, WorkerQueue
from airflow_celery.cluster.roles import WORKER

MAX_QUEUES = 8
"""Extra queues a stack may declare: each is an ECS service, a task role and an alarm, and a sidecar loop."""
MAX_QUEUE_WORKERS = 100
"""The cap on one queue's workers, as worker_max_count's (aws/args.py, MAX_WORKERS)."""
MAX_MANAGED_POLICIES = 10
"""IAM attaches at most 10 managed policies to a role by default (IAM quotas: "Managed policies attached to an IAM
role")."""
MAX_INLINE_POLICY_CHARS = 10240
"""IAM's limit on a role's inline policies together, whitespace excluded (IAM quotas: "Role policy size")."""
_MANAGED_POLICY_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy/[\w+=,.@/-]{1,512}")
_EFFECTS = ("Allow", "Deny")


class WorkerQueueArgs(TypedDict, total=False):
    """One extra pool of workers consuming its own Celery queue (tasks choose it with `queue="<name>"`)."""

    cpu: int
    """CPU units of each worker (1024 = 1 vCPU). Default: the default queue's (role_sizes.worker)."""
    memory: int
    """MiB of each worker, a size Fargate allows with `cpu`. Default: the default queue's."""
    concurrency: int
    """Task slots per worker, 1-256; the queue's memory must hold them (the measured memory per slot). Default:
    the default queue's (worker_concurrency)."""
    min: int
    """Fewest workers, 0 or more. Default: `count`."""
    max: int
    """Most workers, at least 1. Default: `count`. With min < max the autoscaler follows the queue's own tasks."""
    count: int
    """Workers at the first deploy, between min and max. Default: `min`, or 1 when neither is set."""
    capacity: str
    """"fargate" (on-demand, the default), "fargate-spot" or "mixed" (min on-demand, the rest Spot)."""
    policy: str
    """An IAM policy document (JSON) attached to this queue's task role only, e.g. a bucket only its tasks read."""
    managed: list[str]
    """ARNs of managed IAM policies attached to this queue's task role only."""


def resolve_worker_queues(
    given: Mapping[str, Any], default_size: tuple[int, int], default_concurrency: int
) -> tuple[WorkerQueue, ...]:
    """The extra queues, checked and with their defaults filled in, in name order."""
    queues = given.get("worker_queues") or {}
    _require(
        len(queues) <= MAX_QUEUES,
        "worker_queues",
        sorted(queues),
        f"at most {MAX_QUEUES} queues besides the default one",
    )
    return tuple(_resolve_queue(name, queues[name], default_size, default_concurrency) for name in sorted(queues))


def _resolve_queue(
    name: str, given: Mapping[str, Any], default_size: tuple[int, int], default_concurrency: int
) -> WorkerQueue:
    key = f"worker_queues.{name}"
    _require(
        name != DEFAULT_QUEUE,
        key,
        dict(given),
        "a queue other than 'default': the default queue is the worker_* keys' pool (worker_count, "
        "worker_concurrency, role_sizes.worker, worker_capacity); set those instead",
    )
    _require(
        QUEUE_NAME.fullmatch(name) is not None,
        key,
        name,
        "a queue name of 1-12 lowercase letters, digits and single inner hyphens, starting with a letter: Celery's "
        "--queues splits on commas, and the name becomes part of the queue's ECS service and IAM role names",
    )
    cpu, memory = given.get("cpu", default_size[0]), given.get("memory", default_size[1])
    _require(is_fargate_size(cpu, memory), key, {"cpu": cpu, "memory": memory},
             f"a size Fargate runs: {describe_allowed(cpu)}")  # fmt: skip
    concurrency = given.get("concurrency", default_concurrency)
    _require(1 <= concurrency <= 256, f"{key}.concurrency", concurrency, "a whole number from 1 to 256")
    most = max_worker_concurrency(memory)
    _require(
        concurrency <= most,
        f"{key}.concurrency",
        concurrency,
        f"at most {most} slots on a worker of {memory} MiB: a busy slot takes {SLOT_MEMORY_MIB} MiB with its pool "
        f"child and the worker's main process {WORKER_MAIN_MEMORY_MIB} MiB (measured {MEASURED_ON}, "
        f"bench/capacity.py), with {100 - round(MEMORY_USABLE_SHARE * 100)} % left for the tasks' own data; or "
        f"give the queue's workers more memory ({key}.memory)",
    )
    count, minimum, maximum = _counts(key, given)
    capacity = given.get("capacity", "fargate")
    _require(capacity in CAPACITIES, f"{key}.capacity", capacity, f"one of {', '.join(CAPACITIES)}")
    policy = given.get("policy")
    if policy is not None:
        _check_policy(f"{key}.policy", policy)
    managed = tuple(given.get("managed", ()))
    _require(len(managed) <= MAX_MANAGED_POLICIES, f"{key}.managed", list(managed),
             f"at most {MAX_MANAGED_POLICIES} managed policies (IAM's default quota per role)")  # fmt: skip
    for index, arn in enumerate(managed):
        _require(_MANAGED_POLICY_ARN.fullmatch(arn) is not None, f"{key}.managed[{index}]", arn,
                 "a managed policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")  # fmt: skip
    return WorkerQueue(name, cpu, memory, concurrency, minimum, maximum, count, capacity, policy, managed)


def _counts(key: str, given: Mapping[str, Any]) -> tuple[int, int, int]:
    for field in ("min", "max", "count"):
        value = given.get(field)
        _require(value is None or 0 <= value <= MAX_QUEUE_WORKERS, f"{key}.{field}", value,
                 f"a whole number from 0 to {MAX_QUEUE_WORKERS}")  # fmt: skip
    minimum, maximum, count = given.get("min"), given.get("max"), given.get("count")
    if count is None:
        count = minimum if minimum is not None else 1
        count = min(count, maximum) if maximum is not None else count
    minimum = count if minimum is None else minimum
    maximum = count if maximum is None else maximum
    _require(minimum <= count, f"{key}.min", minimum, f"at most the queue's count ({count})")
    _require(count <= maximum, f"{key}.max", maximum, f"at least the queue's count ({count})")
    _require(maximum >= 1, f"{key}.max", maximum, "at least 1: without a worker no task on this queue ever runs")
    return count, minimum, maximum


def _check_policy(key: str, policy: str) -> None:
    """An identity policy IAM would take: JSON, a Statement list, each with Effect, Action and Resource."""
    allowed = (
        'an IAM policy document as JSON, e.g. {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket/*"]}]}'
    )
    try:
        document = json.loads(policy)
    except ValueError:
        raise _error(key, policy, allowed) from None
    statements = document.get("Statement") if isinstance(document, dict) else None
    _require(isinstance(statements, list) and len(statements) > 0, key, policy, allowed)
    for index, statement in enumerate(statements):  # type: ignore[arg-type]
        where = f"{key}.Statement[{index}]"
        _require(isinstance(statement, dict), where, statement, allowed)
        _require(statement.get("Effect") in _EFFECTS, f"{where}.Effect", statement.get("Effect"), "Allow or Deny")
        _require("Principal" not in statement, f"{where}.Principal", statement.get("Principal"),
                 "no Principal: this is the task role's identity policy (IAM refuses one there)")  # fmt: skip
        for field in ("Action", "Resource"):
            _require(bool(statement.get(field)) or bool(statement.get(f"Not{field}")), f"{where}.{field}",
                     statement.get(field), "one or a list of IAM action / resource ARN patterns")  # fmt: skip
    size = len(re.sub(r"\s", "", policy))
    _require(size <= MAX_INLINE_POLICY_CHARS, key, f"{size} characters",
             f"at most {MAX_INLINE_POLICY_CHARS} characters without whitespace (IAM's role policy size)")  # fmt: skip


def queue_slots(queues: tuple[WorkerQueue, ...]) -> tuple[QueueSlots, ...]:
    """The extra queues as the limits count them."""
    return tuple(QueueSlots(q.name, q.max_count, q.concurrency) for q in queues)


def default_queue(config: Any) -> WorkerQueue:
    """The default queue, built from the worker_* keys of a ResolvedArgs (its pool is today's worker service)."""
    cpu, memory = config.role_sizes.get(WORKER.name, (WORKER.size.cpu, WORKER.size.memory))
    return WorkerQueue(
        DEFAULT_QUEUE, cpu, memory, config.worker_concurrency, config.worker_min_count, config.worker_max_count,
        config.worker_count, config.worker_capacity,
    )  # fmt: skip


def _error(key: str, value: object, allowed: str) -> ValueError:
    from airflow_celery.aws.args import ConfigError

    return ConfigError(key, value, allowed)


def _require(condition: bool, key: str, value: object, allowed: str) -> None:
    if not condition:
        raise _error(key, value, allowed)
