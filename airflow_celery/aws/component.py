"""AirflowCeleryCluster: Airflow 3 with the CeleryExecutor on ECS Fargate, as one Pulumi component.

This module only wires the per-concern modules together; each AWS concern lives in its own module.
"""

import dataclasses
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from airflow_celery.autoscaler.cloudwatch import namespace as metric_namespace
from airflow_celery.aws import (
    airflow_metrics,
    alarms,
    broker,
    broker_storage,
    database,
    discovery,
    ecs,
    hibernation,
    housekeeping,
    iam,
    image,
    load_balancer,
    logs,
    migration,
    network,
    scaling,
    task_logs,
)
from airflow_celery.aws import secrets as cluster_secrets
from airflow_celery.aws.args import AirflowCeleryClusterArgs, ResolvedArgs, resolve_args
from airflow_celery.aws.context import BuildContext
from airflow_celery.aws.dag_source import dag_bucket, dag_source_grants, dag_source_of, grant_read
from airflow_celery.aws.security_groups import security_groups
from airflow_celery.aws.task_definition import TaskInputs
from airflow_celery.cluster.dag_source import DagSource
from airflow_celery.cluster.edges import BROKER_STORAGE, LOAD_BALANCER
from airflow_celery.cluster.env import EnvSettings
from airflow_celery.cluster.limits import capacity_settings
from airflow_celery.cluster.metrics import EMITTING_ROLES, STATSD_PORT
from airflow_celery.cluster.queues import scaling_of
from airflow_celery.cluster.roles import (
    AIRFLOW_SERVICES,
    API_SERVER,
    DAG_PROCESSOR,
    FLOWER,
    MIGRATE,
    POSTGRES,
    REDIS,
    SCHEDULER,
    TRIGGERER,
    WORKER,
    Role,
    sidecars_of,
)
from airflow_celery.cluster.secrets import SecretName

TYPE_TOKEN = "airflow-celery:index:AirflowCeleryCluster"
OUTPUT_NAMES = (
    "airflow_url",
    "flower_url",
    "ecr_repository_url",
    "cluster_name",
    "db_endpoint",
    "admin_password_secret_arn",
    "dag_bucket",
)


# Pulumi's schema inference (airflow_celery/aws/provider.py) reads the `args` annotation and refuses unions;
# type checkers see the `None` Python callers may pass.
if TYPE_CHECKING:
    OptionalArgs = AirflowCeleryClusterArgs | None
else:
    OptionalArgs = AirflowCeleryClusterArgs


class AirflowCeleryCluster(pulumi.ComponentResource):
    """Airflow 3.3 + CeleryExecutor on ECS Fargate: RDS, Redis, an ALB, one service per role."""

    airflow_url: pulumi.Output[str]
    """The Airflow UI and API: domain_name, or the load balancer's own DNS name; https with a certificate."""
    flower_url: pulumi.Output[str]
    """Flower, the Celery monitor, behind basic auth (the admin user): the Airflow URL followed by /flower/ with
    flower_on_load_balancer, else http://localhost:5555/flower/ through the ECS Exec port forward (README)."""
    ecr_repository_url: pulumi.Output[str]
    """The ECR repository the image is pushed to (built from image/ unless `image` is given)."""
    cluster_name: pulumi.Output[str]
    """The ECS cluster running one service per role."""
    db_endpoint: pulumi.Output[str]
    """The RDS PostgreSQL endpoint (host:port), reachable only from the cluster's tasks."""
    admin_password_secret_arn: pulumi.Output[str]
    """The Secrets Manager secret holding the Airflow admin's generated password (its ARN, never the value)."""
    dag_bucket: pulumi.Output[str]
    """With dag_source "s3": the bucket `airflow-celery dags push STACK` writes to; "" otherwise."""

    def __init__(
        self,
        name: str,
        args: OptionalArgs = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Validate first: bad input raises one ConfigError before anything is registered.
        config = resolve_args(name, args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.config = config
        self.outputs = _build(BuildContext(parent=self, config=config))
        for key, value in self.outputs.items():
            setattr(self, key, value)
        self.register_outputs(self.outputs)


def ecs_roles(config: ResolvedArgs) -> list[Role]:
    """Roles that get their own ECS service: the Airflow services, and Redis unless ElastiCache is the broker."""
    return [*AIRFLOW_SERVICES, *([REDIS] if config.redis_mode == "fargate" else [])]


def settings_template(config: ResolvedArgs) -> EnvSettings:
    """The env contract's settings known before deploy; URLs, bucket and region are filled in later."""
    return EnvSettings(
        execution_api_url=discovery.execution_api_url(discovery.namespace_name(config.name)),
        **capacity_settings(config.capacity),
        default_task_retries=config.default_task_retries,
        default_task_retry_delay=config.default_task_retry_delay_seconds,
        wait_for_migrations=True,
        serve_logs=True,
        admin_username=config.admin_username,
        jwt_issuer=jwt_issuer(config.name),
        worker_min_count=config.worker_min_count,
        worker_max_count=config.worker_max_count,
        scale_in_cooldown=config.worker_scale_in_cooldown,
        metric_namespace=metric_namespace(config.name) if config.any_autoscaling else None,
        database_ca_file=database.RDS_CA_BUNDLE,
        statsd_port=STATSD_PORT if config.airflow_metrics else None,
        dag_source=dag_source_of(vars(config)),
        worker_queues=tuple(scaling_of(q) for q in config.worker_queues),
    )


FLOWER_PORT_FORWARD_URL = "http://localhost:5555{prefix}/"
"""Where Flower answers on the operator's machine through the ECS Exec port forward the README shows."""


def flower_url(config: ResolvedArgs, alb_url: str, prefix: str) -> str:
    """Flower on the load balancer, or on localhost through the port forward when it is off the load balancer."""
    if config.flower_on_load_balancer:
        return f"{alb_url}{prefix}/"
    return FLOWER_PORT_FORWARD_URL.format(prefix=prefix)


def jwt_issuer(name: str) -> str:
    """Unique per deployment: the Pulumi project, the stack and the component's name."""
    return f"airflow-celery:{pulumi.get_project()}/{pulumi.get_stack()}/{name}"


def _build(ctx: BuildContext) -> dict[str, pulumi.Output[str]]:
    config = ctx.config
    net = network.network(ctx)
    groups = security_groups(ctx, net.vpc_id)
    generated = cluster_secrets.generate(ctx)
    db = database.database(ctx, net.private_subnet_ids, groups[POSTGRES.name], generated[SecretName.DATABASE_PASSWORD])
    namespace = discovery.private_namespace(ctx, net.vpc_id)
    broker_endpoint, redis_group = _broker(ctx, net, groups, generated)
    composed = cluster_secrets.compose(generated, database.endpoint(db), broker_endpoint, config.admin_username)
    stored = cluster_secrets.store(ctx, {**generated, **composed})

    repo = image.repository(ctx)
    image_ref = image.image_reference(ctx, repo)
    roles = ecs_roles(config)
    log_groups = logs.log_groups(ctx, [*roles, MIGRATE, *sidecars_of(SCHEDULER.name, config.any_autoscaling)])
    bucket = logs.task_log_bucket(ctx)
    template = settings_template(config)
    s3_dags = template.dag_source.kind == "s3"
    # Before the task definitions: the dag-processor's environment names it with dag_failure_notifications.
    sns = alarms.topic(ctx) if config.monitoring else None
    dags_bucket = dag_bucket(ctx, config) if s3_dags else ""
    alb = load_balancer.load_balancer(
        ctx,
        {"public": net.public_subnet_ids, "private": net.private_subnet_ids},
        net.vpc_id,
        groups[LOAD_BALANCER],
        template.flower_url_prefix,
    )
    execution = iam.execution_roles(ctx, roles, stored.arns, dag_source_grants(config.dag_git_secret_arn))
    registered = [API_SERVER.name, *([REDIS.name] if config.redis_mode == "fargate" else [])]
    ecs_cluster = ecs.ecs_cluster(ctx)
    storage = (
        broker_storage.broker_storage(ctx, net.private_subnet_ids, groups[BROKER_STORAGE])
        if config.redis_mode == "fargate"
        else None
    )
    wiring = ecs.ServiceWiring(
        cluster=ecs_cluster,
        capacity_providers=ecs.capacity_providers(ctx, ecs_cluster),
        private_subnet_ids=net.private_subnet_ids,
        security_groups=groups,
        execution_roles={name: role for name, (role, _) in execution.items()},
        task_role=iam.task_role(ctx, bucket),
        role_task_roles=_role_task_roles(ctx, bucket, ecs_cluster, storage, s3_dags, sns),
        target_groups=alb.target_groups,
        discovery={name: discovery.discovery_service(ctx, namespace, name) for name in registered},
        task_depends_on=[*stored.versions, *(grant for _, grants in execution.values() for grant in grants)],
        service_depends_on=alb.routing,
        exec_roles=frozenset({FLOWER.name}),
        broker_volume=storage.volume() if storage else None,
        broker_depends_on=list(storage.mount_targets) if storage else [],
        queue_task_roles={q.name: iam.worker_task_role(ctx, bucket, ecs_cluster, q) for q in config.worker_queues},
    )
    if s3_dags:
        grant_read(ctx, wiring.role_task_roles, dags_bucket, template.dag_source.prefix)
    inputs = _task_inputs(ctx, template, image_ref, alb.url, net.cidrs, _task_log_folder(ctx, bucket, wiring), stored,
                          log_groups, dags_bucket, failure_topic_arn(config, sns))  # fmt: skip
    definitions = {r.name: ecs.task_definition(ctx, r, inputs, wiring) for r in roles}
    wiring = dataclasses.replace(wiring, migration=_migration(ctx, roles, definitions, wiring, inputs, log_groups))
    services, targets = {}, {}
    for r in roles:
        services[r.name] = ecs.service(ctx, r, definitions[r.name], wiring)
        if r is WORKER and config.autoscaling:
            target, _, _ = scaling.worker_autoscaling(ctx, ecs_cluster, services[r.name], metric_namespace(config.name))
            targets[r.name] = target
    queue_services, queue_targets = _worker_queues(ctx, inputs, wiring)
    if config.hibernation is not None:
        bounds = {q.resource_name: (q.min_count, q.max_count) for q in config.worker_queues}
        hibernation.hibernate(ctx, ecs_cluster, {**services, **queue_services}, {**targets, **queue_targets}, db,
                              bounds)  # fmt: skip
    housekeeping.housekeeping(ctx, ecs_cluster, inputs, net.private_subnet_ids, groups[SCHEDULER.name], stored.arns)
    if sns is not None:
        watched = alarms.watched_of(ecs_cluster, services, db, alb.alb, alb.target_groups[API_SERVER.name], redis_group)
        alarms.observe(ctx, watched, log_groups[SCHEDULER.name], sns)

    return {
        "airflow_url": alb.url,
        "flower_url": alb.url.apply(lambda url: flower_url(config, url, template.flower_url_prefix)),
        "ecr_repository_url": repo.repository_url,
        "cluster_name": wiring.cluster.name,
        "db_endpoint": db.endpoint,
        "admin_password_secret_arn": stored.arns[SecretName.ADMIN_PASSWORD],
        "dag_bucket": pulumi.Output.from_input(dags_bucket),
    }


def failure_topic_arn(config: ResolvedArgs, sns: alarms.AlarmTopic | None) -> pulumi.Input[str | None]:
    """The topic failed DAG runs are announced on (the alarms'), or None without dag_failure_notifications."""
    return sns.arn if sns is not None and config.dag_failure_notifications else None


def _with_bucket(source: DagSource, bucket: str) -> DagSource:
    """The s3 source with the created bucket's name, known once it exists."""
    return dataclasses.replace(source, bucket=bucket) if source.kind == "s3" else source


def _worker_queues(
    ctx: BuildContext, inputs: pulumi.Output[TaskInputs], wiring: ecs.ServiceWiring
) -> tuple[dict[str, aws.ecs.Service], dict[str, aws.appautoscaling.Target]]:
    """Per extra worker queue (cluster/queues.py): its task definition, its service, and its own autoscaling,
    keyed by the queue's resource name (`worker-<queue>`)."""
    services, targets = {}, {}
    for queue in ctx.config.worker_queues:
        definition = ecs.task_definition(ctx, WORKER, inputs, wiring, queue)
        service = ecs.service(ctx, WORKER, definition, wiring, queue)
        services[queue.resource_name] = service
        if queue.autoscaling:
            namespace = metric_namespace(ctx.config.name)
            targets[queue.resource_name], _, _ = scaling.worker_autoscaling(ctx, wiring.cluster, service, namespace,
                                                                            queue)  # fmt: skip
    return services, targets


def _task_log_folder(ctx: BuildContext, bucket: aws.s3.Bucket, wiring: ecs.ServiceWiring) -> pulumi.Output[str]:
    """The remote log folder: the task-log group (workers and the triggerer write, the api-server reads; they
    share the task role but the worker), or the S3 bucket with task_log_store "s3"."""
    if ctx.config.task_log_store == "s3":
        return bucket.bucket.apply(logs.remote_log_folder)
    group = task_logs.log_group(ctx)
    own = [name for name in (WORKER.name, TRIGGERER.name, DAG_PROCESSOR.name) if name in wiring.role_task_roles]
    writers = [("shared", wiring.task_role), *((name, wiring.role_task_roles[name]) for name in own)]
    writers += [(f"{WORKER.name}-{queue}", role) for queue, role in wiring.queue_task_roles.items()]
    task_logs.grant(ctx, group, writers=writers, readers=[("shared", wiring.task_role)])
    return task_logs.folder(group)


def _role_task_roles(
    ctx: BuildContext,
    bucket: aws.s3.Bucket,
    ecs_cluster: aws.ecs.Cluster,
    storage: broker_storage.BrokerStorage | None,
    s3_dags: bool = False,
    sns: alarms.AlarmTopic | None = None,
) -> dict[str, aws.iam.Role]:
    """Workers protect their own tasks from scale-in; with autoscaling, the scheduler's task publishes metrics;
    Flower only opens ECS Exec channels; a Fargate Redis mounts its storage (and nothing else); with the s3 DAG
    source the dag-processor reads the DAG prefix, and with dag_failure_notifications it publishes to the alarms'
    topic (it runs DAG callbacks), which no other role on the shared task role may."""
    found = {WORKER.name: iam.worker_task_role(ctx, bucket, ecs_cluster), FLOWER.name: iam.flower_task_role(ctx)}
    notify = sns is not None and ctx.config.dag_failure_notifications
    if s3_dags or notify:
        found[DAG_PROCESSOR.name] = iam.task_role(ctx, bucket, DAG_PROCESSOR.name)
    if notify:
        assert sns is not None
        alarms.grant_failure_publish(ctx, DAG_PROCESSOR.name, found[DAG_PROCESSOR.name], sns)
    if ctx.config.any_autoscaling:
        found[SCHEDULER.name] = iam.scheduler_task_role(ctx, bucket, metric_namespace(ctx.name))
    if storage is not None:
        found[REDIS.name] = broker_storage.broker_task_role(ctx, storage)
    if ctx.config.airflow_metrics:
        _metric_publishers(ctx, bucket, found)
    return found


def _metric_publishers(ctx: BuildContext, bucket: aws.s3.Bucket, found: dict[str, aws.iam.Role]) -> None:
    """Each role whose task runs the metrics agent gets a task role of its own that may publish into the
    deployment's namespace (the api-server, which runs none, keeps the shared role without it). The scheduler's
    role with autoscaling already publishes there (iam.scheduler_task_role)."""
    namespace = metric_namespace(ctx.name)
    for name in EMITTING_ROLES:
        if name == SCHEDULER.name and ctx.config.autoscaling:
            continue
        if name not in found:
            found[name] = iam.task_role(ctx, bucket, name)
        role = found[name]
        airflow_metrics.grant_publish(ctx, name, role, namespace)


def _migration(
    ctx: BuildContext,
    roles: list[Role],
    definitions: dict[str, aws.ecs.TaskDefinition],
    wiring: ecs.ServiceWiring,
    inputs: pulumi.Output[TaskInputs],
    log_groups: dict[str, aws.cloudwatch.LogGroup],
) -> aws.lambda_.Invocation:
    """The migrate step every service waits for; it may stop and restart the services that read the schema."""
    stopped = migration.stopped_for_migrations(roles)
    passed = [wiring.execution_roles[MIGRATE.name].arn]
    for r in stopped:
        passed += [wiring.execution_roles[r.name].arn, wiring.role_task_roles.get(r.name, wiring.task_role).arn]
    return migration.migration_step(
        ctx,
        inputs,
        migration.MigrationWiring(
            cluster=wiring.cluster,
            subnet_ids=wiring.private_subnet_ids,
            security_group=wiring.security_groups[MIGRATE.name],
            execution_role=wiring.execution_roles[MIGRATE.name],
            task_depends_on=wiring.task_depends_on,
            log_group=log_groups[MIGRATE.name],
            services={r.name: (definitions[r.name], ecs.desired_count(ctx, r)) for r in stopped},
            passed_roles=passed,
        ),
    )


def _broker(
    ctx: BuildContext,
    net: network.Network,
    groups: dict[str, aws.ec2.SecurityGroup],
    generated: dict[SecretName, pulumi.Output[str]],
) -> tuple[pulumi.Output, aws.elasticache.ReplicationGroup | None]:
    """The broker's endpoint, and its ElastiCache replication group (None for Redis on Fargate)."""
    if ctx.config.redis_mode == "fargate":
        return broker.fargate_endpoint(discovery.namespace_name(ctx.name)), None
    group = broker.elasticache(ctx, net.private_subnet_ids, groups[REDIS.name], generated[SecretName.REDIS_PASSWORD])
    return broker.elasticache_endpoint(group), group


def _task_inputs(
    ctx: BuildContext,
    template: EnvSettings,
    image_ref: pulumi.Output[str],
    public_url: pulumi.Output[str],
    vpc_cidrs: pulumi.Input[list[str]],
    remote_log_folder: pulumi.Output[str],
    stored: cluster_secrets.StoredSecrets,
    log_groups: dict[str, aws.cloudwatch.LogGroup],
    dags_bucket: pulumi.Input[str] = "",
    failure_topic: pulumi.Input[str | None] = None,
) -> pulumi.Output[TaskInputs]:
    """Every deploy-time value the container definitions need, gathered into one plain TaskInputs."""
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent)).region
    return pulumi.Output.all(
        image=image_ref,
        url=public_url,
        vpc_cidrs=vpc_cidrs,
        remote_log_folder=remote_log_folder,
        region=region,
        arns=pulumi.Output.all(**{str(k): v for k, v in stored.arns.items()}),
        versions=pulumi.Output.all(**{str(k): v for k, v in stored.version_ids.items()}),
        groups=pulumi.Output.all(**{name: group.name for name, group in log_groups.items()}),
        dags_bucket=dags_bucket,
        failure_topic=failure_topic,
    ).apply(
        lambda v: TaskInputs(
            image=v["image"],
            settings=dataclasses.replace(
                template,
                public_base_url=v["url"],
                # Only the load balancer and the workers reach the api-server (security groups), all from
                # inside the VPC; a client's own X-Forwarded-For entries stay untrusted.
                trusted_proxies=",".join(v["vpc_cidrs"]),
                remote_log_folder=v["remote_log_folder"],
                aws_region=v["region"],
                dag_source=_with_bucket(template.dag_source, v["dags_bucket"]),
                dag_failure_topic_arn=v["failure_topic"],
            ),
            secret_arns={SecretName(k): arn for k, arn in v["arns"].items()},
            secret_versions={SecretName(k): version for k, version in v["versions"].items()},
            log_groups=v["groups"],
            region=v["region"],
            airflow_metrics_namespace=metric_namespace(ctx.name) if ctx.config.airflow_metrics else None,
            dag_git_secret_arn=ctx.config.dag_git_secret_arn,
        )
    )
