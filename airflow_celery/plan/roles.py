"""Each role as it will run: command, size, task count (min-max for workers) and the secrets it reads."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.offline import Recorded, RecordingMocks
from airflow_celery.cluster.env import secrets_of
from airflow_celery.cluster.roles import MIGRATE, POSTGRES, REDIS, ROLES, Kind

SERVICE_TYPE = "aws:ecs/service:Service"
TASK_DEFINITION_TYPE = "aws:ecs/taskDefinition:TaskDefinition"
POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"


@dataclass(frozen=True)
class RoleRow:
    role: str
    runs_on: str
    """"Fargate", "in the scheduler's task", "RDS" or "ElastiCache"."""
    command: str
    size: str
    count: int
    min_count: int | None = None
    max_count: int | None = None
    secrets: tuple[str, ...] = ()
    count_label: str | None = None
    """Shown instead of the count, for a job that runs once per start of its host task."""

    @property
    def count_text(self) -> str:
        if self.count_label is not None:
            return self.count_label
        if self.min_count is None or (self.min_count == self.count == self.max_count):
            return str(self.count)
        return f"{self.count} ({self.min_count}-{self.max_count})"


def services(mocks: RecordingMocks, name: str) -> dict[str, tuple[Recorded, Recorded]]:
    """Role name -> (its ECS service, its task definition), as the component registered them."""
    definitions = {record.outputs.get("arn"): record for record in mocks.of_type(TASK_DEFINITION_TYPE)}
    found = {}
    for service in mocks.of_type(SERVICE_TYPE):
        definition = definitions[service.inputs["taskDefinition"]]
        found[definition.inputs["family"].removeprefix(f"{name}-")] = (service, definition)
    order = [role.name for role in ROLES]
    return dict(sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def _migrate_definition(mocks: RecordingMocks, name: str) -> Recorded:
    """Migrate's own task definition (aws/migration.py): run by the migrate step, not by a service."""
    return next(d for d in mocks.of_type(TASK_DEFINITION_TYPE) if d.inputs["family"] == f"{name}-{MIGRATE.name}")


def _size(definition: Recorded) -> str:
    cpu, memory = int(definition.inputs["cpu"]), int(definition.inputs["memory"])
    return f"{cpu / 1024:g} vCPU / {memory / 1024:g} GiB"


def queue_rows(
    by_role: dict[str, tuple[Recorded, Recorded]], config: ResolvedArgs, secrets: tuple[str, ...]
) -> list[RoleRow]:
    """A row per extra worker queue (cluster/queues.py): its size, count range, capacity and its own IAM."""
    found = []
    for queue in config.worker_queues:
        service, definition = by_role[queue.resource_name]
        extras = (["own policy"] if queue.policy else []) + [
            f"{len(queue.managed_policy_arns)} managed policies"
        ] * bool(queue.managed_policy_arns)
        runs_on = f"Fargate ({queue.capacity}" + (f"; IAM: {', '.join(extras)}" if extras else "") + ")"
        command = f"airflow celery worker --queues {queue.name}"
        count = int(service.inputs.get("desiredCount", 0))
        found.append(RoleRow(queue.resource_name, runs_on, command, _size(definition), count, queue.min_count,
                             queue.max_count, secrets))  # fmt: skip
    return found


def runs_on(mocks: RecordingMocks, name: str, role_name: str) -> str:
    """Fargate, and what its task role may do beyond the usual where that is a switch of the config: the
    dag-processor publishing failed DAG runs to the alarms' topic (dag_failure_notifications)."""
    grant = f"{name}-{role_name}-task-role-dag-failures"
    if any(policy.name == grant for policy in mocks.of_type(POLICY_TYPE)):
        return (
            f"Fargate (IAM: sns:Publish on {name}-alarms and its key's kms:GenerateDataKey*, kms:Decrypt, "
            "failed DAG runs)"
        )
    return "Fargate"


def rows(mocks: RecordingMocks, config: ResolvedArgs) -> list[RoleRow]:
    by_role = services(mocks, config.name)
    result = []
    for role in ROLES:
        secrets = tuple(str(secret) for secret in secrets_of(role.name).values())
        command = " ".join(role.command) if role.kind is not Kind.DATABASE else "-"
        if role.name in by_role:
            service, definition = by_role[role.name]
            count = int(service.inputs.get("desiredCount", 0))
            bounds = (config.worker_min_count, config.worker_max_count) if role.scalable else (None, None)
            where = runs_on(mocks, config.name, role.name)
            result.append(RoleRow(role.name, where, command, _size(definition), count, *bounds, secrets))
            if role.scalable:
                result += queue_rows(by_role, config, secrets)
        elif role is MIGRATE:
            definition = _migrate_definition(mocks, config.name)
            result.append(RoleRow(role.name, "Fargate one-off task", command, _size(definition), 0,
                                  secrets=secrets, count_label="once per deploy, before the services"))  # fmt: skip
        elif role is POSTGRES:
            multi = " multi-AZ" if config.db_multi_az else ""
            size = f"{config.db_instance_class}{multi}, {config.db_allocated_storage} GiB"
            result.append(RoleRow(role.name, "RDS", "-", size, 1))
        elif role is REDIS:
            groups = mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
            nodes = sum(int(group.inputs.get("numCacheClusters", 1)) for group in groups)
            size = f"{config.redis_node_type} (primary + replica)" if nodes == 2 else config.redis_node_type
            result.append(RoleRow(role.name, "ElastiCache", "-", size, nodes, secrets=secrets))
    return result
