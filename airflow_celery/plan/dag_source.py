"""Where the stack's DAGs come from, and who may fetch them: read from the recorded task definitions and IAM."""

from __future__ import annotations

import json
from dataclasses import dataclass

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.dag_source import dag_source_of
from airflow_celery.aws.offline import RecordingMocks
from airflow_celery.cluster.dag_source import BUNDLE_CONFIG_VAR, BUNDLE_STORAGE_VAR, GIT_CONN_VAR

TASK_DEFINITION_TYPE = "aws:ecs/taskDefinition:TaskDefinition"


@dataclass(frozen=True)
class DagSourcePlan:
    source: str
    """One line: the source and its settings (cluster/dag_source.py DagSource.describe)."""
    bundle_readers: tuple[str, ...]
    """Containers whose environment holds the bundle list."""
    credential_holders: tuple[str, ...]
    """Containers given the git credential (an ECS secrets entry)."""
    credential_readers: tuple[str, ...]
    """Tasks whose execution role may read the credential's secret."""
    storage: str | None
    """Where checkouts live in the container (its ephemeral storage)."""

    def facts(self) -> list[str]:
        lines = [self.source]
        if self.bundle_readers:
            lines.append(f"bundle list in: {', '.join(self.bundle_readers)}; checkouts in {self.storage} "
                         "(the task's ephemeral storage, pruned by Airflow's stale-version sweep)")  # fmt: skip
        if self.credential_holders:
            lines.append(f"git credential ({GIT_CONN_VAR}) given to: {', '.join(self.credential_holders)}")
            lines.append(f"IAM secretsmanager:GetSecretValue on it: {', '.join(self.credential_readers)} execution "
                         "roles only")  # fmt: skip
        return lines


def describe(mocks: RecordingMocks, config: ResolvedArgs) -> DagSourcePlan:
    source = dag_source_of(vars(config))
    readers, holders, storage = [], [], None
    for _, container in mocks.all_containers():
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        if BUNDLE_CONFIG_VAR in env:
            readers.append(container["name"])
            storage = env.get(BUNDLE_STORAGE_VAR)
        if any(s["name"] == GIT_CONN_VAR for s in container.get("secrets", [])):
            holders.append(container["name"])
    return DagSourcePlan(
        source=source.describe(),
        bundle_readers=tuple(sorted(set(readers))),
        credential_holders=tuple(sorted(set(holders))),
        credential_readers=_credential_readers(mocks, config.dag_git_secret_arn),
        storage=storage,
    )


def _credential_readers(mocks: RecordingMocks, arn: str | None) -> tuple[str, ...]:
    if arn is None:
        return ()
    found = []
    for task in mocks.of_type(TASK_DEFINITION_TYPE):
        role = next(
            r for r in mocks.of_type("aws:iam/role:Role") if r.outputs["arn"] == task.inputs["executionRoleArn"]
        )
        policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", f"{role.name}-secrets").inputs["policy"])
        if any(arn in statement["Resource"] for statement in policy["Statement"]):
            found.append(task.name.removeprefix(f"{config_name(task.name)}-").removesuffix("-task"))
    return tuple(sorted(found))


def config_name(task_name: str) -> str:
    """The component's name of a task definition `<name>-<role>-task` (role names hold one dash at most)."""
    from airflow_celery.cluster.roles import ROLES

    for r in ROLES:
        if task_name.endswith(f"-{r.name}-task"):
            return task_name.removesuffix(f"-{r.name}-task")
    return task_name
