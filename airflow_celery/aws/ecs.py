"""ECS: the cluster, one Fargate task definition and one service per role.

A deploy that fails fails `pulumi up`: every service waits for steady state, within a timeout derived from the
start-up budget (roles.py), and the circuit breaker stops a failing deployment without rolling back behind
Pulumi's back (an old task definition may not read a migrated schema; see DEPLOY_TIMEOUT and _circuit_breaker).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.load_balancer import DEREGISTRATION_DELAY
from airflow_celery.aws.scaling import capacity_provider_strategy
from airflow_celery.aws.task_definition import TaskInputs, container_definitions_json
from airflow_celery.cluster.drain import DRAIN_PROTECTION_CAP
from airflow_celery.cluster.queues import WorkerQueue
from airflow_celery.cluster.roles import API_SERVER, SCHEDULER, STARTUP_DEADLINE, TRIGGERER, WORKER, Kind, Role

TASK_LAUNCH_SECONDS = 120
"""PROVISIONAL (not measured on Fargate): from a task's placement to its container starting (ENI, image pull of
the ~1 GB Airflow image). With STARTUP_DEADLINE, the longest one task can take to be found healthy or failed."""
CIRCUIT_BREAKER_FAILURES = 3
"""ECS's deployment circuit breaker fails a deployment after max(3, min(200, ceil(desired / 2))) failed tasks (ECS
developer guide, "deployment circuit breaker"); for the counts here (up to 6) that is 3. With one task they fail one
after the other, the worst case."""
DEPLOY_TIMEOUT = (
    CIRCUIT_BREAKER_FAILURES * (TASK_LAUNCH_SECONDS + STARTUP_DEADLINE)
    + (WORKER.stop_timeout or 0)
    + DEREGISTRATION_DELAY
)
"""Seconds `pulumi up` waits for one service's deployment (create or update): time for the circuit breaker to
fail a broken one (3 tasks, each launched and given its whole start-up deadline), then for the old tasks to drain
(a worker's stop timeout, a target's deregistration delay). A healthy deploy is steady well before."""


@dataclass(frozen=True)
class ServiceWiring:
    """Where each service runs and what it is attached to."""

    cluster: aws.ecs.Cluster
    private_subnet_ids: list[pulumi.Input[str]]
    security_groups: dict[str, aws.ec2.SecurityGroup]
    execution_roles: dict[str, aws.iam.Role]
    """Per role: ECS starts its tasks with it, and it may read exactly that role's secrets."""
    task_role: aws.iam.Role
    role_task_roles: dict[str, aws.iam.Role] = field(default_factory=dict)
    """Roles whose task does more than the shared task role allows (scheduler: metrics; worker: protection)."""
    capacity_providers: aws.ecs.ClusterCapacityProviders | None = None
    target_groups: dict[str, aws.lb.TargetGroup] = field(default_factory=dict)
    discovery: dict[str, aws.servicediscovery.Service] = field(default_factory=dict)
    task_depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Secret values: a task must not start before they exist."""
    service_depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Listeners: ECS rejects a target group that no load balancer uses yet."""
    exec_roles: frozenset[str] = frozenset()
    """Roles whose tasks accept ECS Exec sessions (Flower's port forward); their task role grants the channels."""
    migration: pulumi.Resource | None = None
    """The finished migrate step (aws/migration.py): no service changes before it."""
    broker_volume: aws.ecs.TaskDefinitionVolumeArgs | None = None
    """The EFS volume of a Fargate Redis's append-only file (aws/broker_storage.py)."""
    broker_depends_on: list[pulumi.Resource] = field(default_factory=list)
    """The EFS mount targets: a Redis task cannot mount its volume before they are available."""
    queue_task_roles: dict[str, aws.iam.Role] = field(default_factory=dict)
    """Per extra worker queue (cluster/queues.py): its workers' task role, with the queue's own IAM."""


def ecs_cluster(ctx: BuildContext) -> aws.ecs.Cluster:
    insights = "enabled" if ctx.config.container_insights else "disabled"
    return aws.ecs.Cluster(
        ctx.child_name("cluster"),
        settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=insights)],
        tags=ctx.tags("cluster"),
        opts=ctx.opts(),
    )


def capacity_providers(ctx: BuildContext, ecs_cluster: aws.ecs.Cluster) -> aws.ecs.ClusterCapacityProviders:
    """Fargate and Fargate Spot on the cluster: the worker service picks between them (config worker_capacity)."""
    return aws.ecs.ClusterCapacityProviders(
        ctx.child_name("capacity-providers"),
        cluster_name=ecs_cluster.name,
        capacity_providers=["FARGATE", "FARGATE_SPOT"],
        opts=ctx.opts(),
    )


def role_size(ctx: BuildContext, r: Role) -> tuple[int, int]:
    """(cpu, memory) from the config, or the description's size for a role the config does not list."""
    cpu, memory = ctx.config.role_sizes.get(r.name, (r.size.cpu, r.size.memory))
    return int(cpu), int(memory)


def desired_count(ctx: BuildContext, r: Role) -> int:
    """Tasks of role `r`: the config's count for the roles that have one, the description's otherwise."""
    config = ctx.config
    counts = {
        API_SERVER.name: config.api_server_count,
        SCHEDULER.name: config.scheduler_count,
        TRIGGERER.name: config.triggerer_count,
    }
    return config.worker_count if r.scalable else counts.get(r.name, r.desired_count)


def runtime_platform(ctx: BuildContext) -> aws.ecs.TaskDefinitionRuntimePlatformArgs:
    """Linux on the stack's cpu_architecture: every task definition of the image (services and one-off tasks)."""
    return aws.ecs.TaskDefinitionRuntimePlatformArgs(
        operating_system_family="LINUX", cpu_architecture=ctx.config.cpu_architecture
    )


def task_definition(
    ctx: BuildContext,
    r: Role,
    inputs: pulumi.Output[TaskInputs],
    wiring: ServiceWiring,
    queue: WorkerQueue | None = None,
) -> aws.ecs.TaskDefinition:
    """Role `r`'s task definition; with `queue`, an extra worker queue's: its size, task role and `--queues`."""
    cpu, memory = (queue.cpu, queue.memory) if queue else role_size(ctx, r)
    named = queue.resource_name if queue else r.name
    task_role = wiring.queue_task_roles[queue.name] if queue else wiring.role_task_roles.get(r.name, wiring.task_role)
    queue_name = queue.name if queue else None
    return aws.ecs.TaskDefinition(
        ctx.child_name(named, "task"),
        family=ctx.child_name(named),
        cpu=str(cpu),
        memory=str(memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=runtime_platform(ctx),
        execution_role_arn=wiring.execution_roles[r.name].arn,
        task_role_arn=task_role.arn,
        container_definitions=inputs.apply(lambda plain: container_definitions_json(r, plain, queue_name)),
        volumes=[wiring.broker_volume] if r.kind is Kind.BROKER and wiring.broker_volume is not None else None,
        tags=ctx.tags(named, "task"),
        opts=ctx.opts(depends_on=wiring.task_depends_on),
    )


def service(
    ctx: BuildContext,
    r: Role,
    definition: aws.ecs.TaskDefinition,
    wiring: ServiceWiring,
    queue: WorkerQueue | None = None,
) -> aws.ecs.Service:
    """Role `r`'s service; with `queue`, an extra worker queue's (the workers' network, its own count and capacity)."""
    named = queue.resource_name if queue else r.name
    balanced = r.name in wiring.target_groups
    depends_on = [*(wiring.service_depends_on if balanced else [])]
    if (r.scalable or on_spot(ctx, r)) and wiring.capacity_providers is not None:
        depends_on.append(wiring.capacity_providers)
    if r.kind is Kind.BROKER:
        depends_on += wiring.broker_depends_on
    if wiring.migration is not None:
        depends_on.append(wiring.migration)
    return aws.ecs.Service(
        ctx.child_name(named, "service"),
        cluster=wiring.cluster.arn,
        task_definition=definition.arn,
        desired_count=queue.count if queue else desired_count(ctx, r),
        **(
            _on_capacity_providers(capacity_provider_strategy(queue.capacity, queue.min_count))
            if queue
            else _placement(ctx, r)
        ),
        platform_version="LATEST",
        network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
            subnets=wiring.private_subnet_ids,
            security_groups=[wiring.security_groups[r.name].id],
            assign_public_ip=False,
        ),
        deployment_circuit_breaker=_circuit_breaker(),
        **_deployment_limits(r),
        load_balancers=_load_balancers(r, wiring),
        # The load balancer's checks count only once the container's own deadline has passed.
        health_check_grace_period_seconds=r.health.deadline if balanced and r.health else None,
        service_registries=_registry(r, wiring),
        enable_execute_command=r.name in wiring.exec_roles,
        enable_ecs_managed_tags=True,
        propagate_tags="SERVICE",
        # A deploy that does not become steady fails `pulumi up` (and is retried by the next one).
        wait_for_steady_state=True,
        tags=ctx.tags(named, "service"),
        opts=pulumi.ResourceOptions.merge(
            ctx.opts(depends_on=depends_on or None),
            pulumi.ResourceOptions(
                # Application Auto Scaling owns the worker count once it scales: the next `up` must not reset it.
                # So does a hibernation schedule, for every service: a `pulumi up` at night must not wake them.
                ignore_changes=["desiredCount"] if scaled_elsewhere(ctx, r, queue) else None,
                custom_timeouts=deploy_timeouts(r),
            ),
        ),
    )


def scaled_elsewhere(ctx: BuildContext, r: Role, queue: WorkerQueue | None = None) -> bool:
    """Application Auto Scaling owns the count: a queue's workers' with autoscaling, every service's with
    hibernation."""
    autoscaling = queue.autoscaling if queue else r.scalable and ctx.config.autoscaling
    return autoscaling or ctx.config.hibernation is not None


def on_spot(ctx: BuildContext, r: Role) -> bool:
    """A non-worker role that role_capacity puts on Fargate Spot."""
    return ctx.config.role_capacity.get(r.name) == "fargate-spot"


def deploy_timeout(r: Role) -> int:
    """Seconds `pulumi up` waits for role `r`'s deployment: DEPLOY_TIMEOUT, and for workers also the longest a
    superseded worker may stay protected while it finishes its tasks (cluster/drain.py, DRAIN_PROTECTION_CAP):
    ECS stops it only then, and the deployment is steady only once it has."""
    return DEPLOY_TIMEOUT + (int(DRAIN_PROTECTION_CAP) if r.scalable else 0)


def deploy_timeouts(r: Role) -> pulumi.CustomTimeouts:
    """Create and update wait for steady state up to deploy_timeout (whole minutes); deleting drains the same way."""
    minutes = f"{math.ceil(deploy_timeout(r) / 60)}m"
    return pulumi.CustomTimeouts(create=minutes, update=minutes, delete=minutes)


def _circuit_breaker() -> aws.ecs.ServiceDeploymentCircuitBreakerArgs:
    """Stop a failing deployment, but never roll back behind Pulumi's back.

    A rollback would put the previous task definition back: after a version-changing migration, an image whose
    Airflow cannot read the schema (its `db check-migrations` never passes). Pulumi would also record the new
    task definition as deployed while ECS ran the old one. Without rollback, the old tasks keep serving (minimum
    healthy 100 %), `pulumi up` fails on the steady-state wait, and the service keeps the definition Pulumi
    recorded, so the next change deploys from there.
    """
    return aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=False)


def _placement(ctx: BuildContext, r: Role) -> dict:
    """Workers run on the capacity providers worker_capacity names; other roles on Fargate Spot when role_capacity
    says so, else on plain Fargate (a launch type, as before, so that existing services are not replaced).

    ECS applies a changed capacity provider strategy only with a new deployment: the installed pulumi-aws says of
    `capacity_provider_strategies` "Updating this argument requires `force_new_deployment = true`", and of
    `force_new_deployment` that it needs `triggers`. The trigger is the strategy itself, so changing
    workerCapacity or workerMinCount (the on-demand base), roleCapacity, or moving a service deployed with
    `launch_type` onto capacity providers, redeploys that service, and nothing else does.
    """
    if r.scalable:
        strategy = capacity_provider_strategy(ctx.config.worker_capacity, ctx.config.worker_min_count)
        return _on_capacity_providers(strategy)
    if on_spot(ctx, r):
        return _on_capacity_providers(capacity_provider_strategy("fargate-spot", 0))
    return {"launch_type": "FARGATE"}


def _on_capacity_providers(strategy: list) -> dict:
    return {
        "capacity_provider_strategies": strategy,
        "force_new_deployment": True,
        "triggers": {"capacity-provider-strategy": placement_trigger(strategy)},
    }


def placement_trigger(strategy: list[aws.ecs.ServiceCapacityProviderStrategyArgs]) -> str:
    """The strategy as text: a change of it is a change of the service's triggers, hence a new deployment."""
    return json.dumps(
        [{"provider": item.capacity_provider, "base": item.base or 0, "weight": item.weight or 0} for item in strategy]
    )


def _deployment_limits(r: Role) -> dict[str, int]:
    """A Redis broker is replaced, never doubled: two brokers behind one DNS name would split the queue."""
    if r.kind is Kind.BROKER:
        return {"deployment_minimum_healthy_percent": 0, "deployment_maximum_percent": 100}
    return {"deployment_minimum_healthy_percent": 100, "deployment_maximum_percent": 200}


def _load_balancers(r: Role, wiring: ServiceWiring) -> list[aws.ecs.ServiceLoadBalancerArgs] | None:
    group = wiring.target_groups.get(r.name)
    if group is None or r.main_port is None:
        return None
    return [
        aws.ecs.ServiceLoadBalancerArgs(
            target_group_arn=group.arn, container_name=r.name, container_port=r.main_port.number
        )
    ]


def _registry(r: Role, wiring: ServiceWiring) -> aws.ecs.ServiceServiceRegistriesArgs | None:
    found = wiring.discovery.get(r.name)
    return aws.ecs.ServiceServiceRegistriesArgs(registry_arn=found.arn) if found is not None else None
