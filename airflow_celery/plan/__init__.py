"""`airflow-celery plan`: what `pulumi up` would create for a stack, and what it would cost a month, offline.

It reads Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI does (aws/pulumi_cli.py), validates
them with the code the program runs (aws/config.py `args_from_config`, aws/args.py `resolve_args`), then
builds the real component under the project's recording mocks (aws/offline/). Every section reads what
was recorded or the cluster description, so nothing here is a hand-kept list of resources:

- stack.py: the stack's config, validated; the component built offline;
- resources.py: recorded resources grouped by concern;
- roles.py: each role's command, size, count and secrets;
- network.py: the security-group matrix and what is open to the internet;
- pricing.py: the dated price table and the monthly estimate;
- mwaa.py: the same worker capacity priced as Amazon MWAA;
- dag_source.py: where DAGs come from, who gets the bundle list and who may read the git credential;
- render.py: rich tables and the --json document.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_celery.aws.args import ResolvedArgs
    from airflow_celery.aws.offline import RecordingMocks
    from airflow_celery.plan.dag_source import DagSourcePlan
    from airflow_celery.plan.mwaa import Comparison
    from airflow_celery.plan.network import Network
    from airflow_celery.plan.pricing import Estimate
    from airflow_celery.plan.resources import ResourceGroups
    from airflow_celery.plan.roles import RoleRow


class PlanError(Exception):
    """Something the user must fix before a plan can be made (a missing stack file, an unpriced region)."""


@dataclass(frozen=True)
class Plan:
    """Everything the plan shows, as plain data."""

    stack: str
    region: str
    config: ResolvedArgs
    mocks: RecordingMocks
    resources: ResourceGroups
    roles: list[RoleRow]
    network: Network
    cost: Estimate
    mwaa: Comparison
    dag_source: DagSourcePlan | None = None


def make_plan(project_dir: Path, stack: str, overrides: tuple[str, ...] = ()) -> Plan:
    """Read, validate, build offline, then describe and price the stack; raises ConfigError or PlanError."""
    from airflow_celery.plan import dag_source, mwaa, network, pricing, resources, roles
    from airflow_celery.plan.stack import build, read_stack

    stack_input = read_stack(project_dir, stack, overrides)
    prices = pricing.prices_for(stack_input.region)
    mwaa_prices = mwaa.prices_for(stack_input.region)
    mocks = build(stack_input)
    cost = pricing.estimate(mocks, stack_input.config, prices)
    return Plan(
        stack=stack,
        region=stack_input.region,
        config=stack_input.config,
        mocks=mocks,
        resources=resources.group(mocks),
        roles=roles.rows(mocks, stack_input.config),
        network=network.describe(mocks, stack_input.config),
        cost=cost,
        mwaa=mwaa.compare(stack_input.config, cost.total, mwaa_prices),
        dag_source=dag_source.describe(mocks, stack_input.config),
    )
