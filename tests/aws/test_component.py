"""The component as a whole: what it creates, how children hang together, outputs, tags, image and network."""

from __future__ import annotations

import json

from airflow_celery.aws.component import OUTPUT_NAMES
from airflow_celery.cluster.metrics import AGENT_CONTAINER
from airflow_celery.cluster.roles import AIRFLOW_SERVICES, MIGRATE, REDIS
from tests.aws import harness
from tests.aws.assertions import role_task_definitions
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_NAME, VARIANT_ARGS

JWT_ISSUER = "AIRFLOW__API_AUTH__JWT_ISSUER"

SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DOCKER_IMAGE = "docker:index/image:Image"

# Types whose resources carry no tags in AWS (or in the provider's schema).
UNTAGGABLE = {
    "aws:scheduler/schedule:Schedule",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
    "aws:appautoscaling/policy:Policy",
    "aws:lambda/invocation:Invocation",
    "aws:efs/mountTarget:MountTarget",
    "aws:kms/alias:Alias",  # KMS aliases take no tags (pulumi_aws kms.Alias has no tags argument); the key has them
}


def _service_roles(mocks: harness.RecordingMocks, cluster: str) -> set[str]:
    return {r.name.removeprefix(f"{cluster}-").removesuffix("-service") for r in mocks.of_type(SERVICE)}


def test_dev_creates_every_expected_resource(dev):
    for type_token in (
        "aws:ecs/cluster:Cluster",
        "aws:rds/instance:Instance",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:ecr/repository:Repository",
        DOCKER_IMAGE,
        "aws:s3/bucket:Bucket",
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/natGateway:NatGateway",
    ):
        assert len(dev.of_type(type_token)) == 1, type_token
    assert len(dev.of_type("aws:lb/targetGroup:TargetGroup")) == 1  # the api-server's; Flower is off it in dev
    assert dev.of_type("aws:lb/listener:Listener")
    assert dev.of_type("aws:secretsmanager/secret:Secret")


def test_one_service_and_task_definition_per_role_redis_only_on_fargate(dev, prod):
    airflow = {r.name for r in AIRFLOW_SERVICES}
    assert _service_roles(dev, DEV_NAME) == airflow | {REDIS.name}
    assert _service_roles(prod, PROD_NAME) == airflow
    # Plus the one-off tasks' own: migrate (the migrate step, aws/migration.py) and housekeeping.
    assert len(role_task_definitions(dev)) == len(airflow) + 1
    assert len(role_task_definitions(prod)) == len(airflow)
    assert len(dev.of_type(TASK)) == len(airflow) + 3
    assert len(prod.of_type(TASK)) == len(airflow) + 2


def test_one_log_group_per_role_with_the_configured_retention(dev, prod):
    # Every scheduler task runs the watchdog sidecar, which logs to its own group; housekeeping, the task logs and
    # the migrate step's Lambda have theirs.
    expected = {r.name for r in AIRFLOW_SERVICES} | {MIGRATE.name, "watchdog", "housekeeping", "task", "migrate-runner"}
    # prod autoscales (3 to 6 workers): its scheduler task runs the autoscaler, which logs to its own group.
    for mocks, cluster, extra, days in ((dev, DEV_NAME, {REDIS.name}, 30), (prod, PROD_NAME, {"autoscaler"}, 90)):
        groups = mocks.of_type(LOG_GROUP)
        assert {g.name.removeprefix(f"{cluster}-").removesuffix("-logs") for g in groups} == expected | extra
        assert {g.inputs["retentionInDays"] for g in groups} == {days}


def test_every_child_has_the_component_as_parent_and_a_plain_name(built):
    (component,) = built.components
    children = [r for r in built.records if r is not component]
    assert children
    for child in children:
        assert child.parent_urn == component.urn, child.name
        assert "Output" not in child.name and "<" not in child.name, child.name
        assert child.name.startswith(f"{component.name}-"), child.name


def test_outputs_are_registered_and_set_on_the_component(built):
    (component,) = built.components
    assert set(component.registered_outputs) == set(OUTPUT_NAMES)
    alb = built.one("aws:lb/loadBalancer:LoadBalancer")
    outputs = component.registered_outputs
    # prod names its domain; dev has none, so people reach the load balancer by its own DNS name
    expected_host = PROD_ARGS["domain_name"] if component.name == PROD_NAME else alb.outputs["dnsName"]
    assert outputs["airflow_url"].split("://", 1)[1] == expected_host
    # prod serves Flower on the load balancer; dev only through the ECS Exec port forward
    flower = f"{outputs['airflow_url']}/flower/" if component.name == PROD_NAME else "http://localhost:5555/flower/"
    assert outputs["flower_url"] == flower
    assert outputs["ecr_repository_url"] == built.one("aws:ecr/repository:Repository").outputs["repositoryUrl"]
    assert outputs["cluster_name"] == built.one("aws:ecs/cluster:Cluster").outputs["name"]
    assert outputs["db_endpoint"] == built.one("aws:rds/instance:Instance").outputs["endpoint"]


def test_airflow_url_scheme_follows_the_certificate(dev, prod):
    assert dev.components[0].registered_outputs["airflow_url"].startswith("http://")
    assert prod.components[0].registered_outputs["airflow_url"].startswith("https://")


def test_configured_tags_are_on_every_taggable_resource(prod):
    tagged = [r for r in prod.records if r.custom and r.type.startswith("aws:") and r.type not in UNTAGGABLE]
    assert len(tagged) > 50
    for record in tagged:
        tags = record.inputs.get("tags") or {}
        assert PROD_ARGS["tags"].items() <= tags.items(), (record.type, record.name, tags)


def test_ecs_cluster_has_container_insights(built):
    settings = built.one("aws:ecs/cluster:Cluster").inputs["settings"]
    assert {"name": "containerInsights", "value": "enabled"} in settings


def test_worker_desired_count_follows_config(dev, prod):
    """Two configs, two results: dev takes the default of 1 worker, prod asks for 3."""
    for mocks, cluster, count in ((dev, DEV_NAME, 1), (prod, PROD_NAME, PROD_ARGS["worker_count"])):
        worker = mocks.one(SERVICE, f"{cluster}-worker-service")
        assert worker.inputs["desiredCount"] == count
        others = [s for s in mocks.of_type(SERVICE) if s is not worker]
        assert {s.inputs["desiredCount"] for s in others} == {1}


def test_services_are_private_fargate_with_a_circuit_breaker_that_never_rolls_back(built):
    for service in built.of_type(SERVICE):
        inputs = service.inputs
        if service.name.endswith("-worker-service"):  # workers run on the capacity providers of worker_capacity
            assert "launchType" not in inputs
            assert {s["capacityProvider"] for s in inputs["capacityProviderStrategies"]} <= {"FARGATE", "FARGATE_SPOT"}
        else:
            assert inputs["launchType"] == "FARGATE"
        assert inputs["networkConfiguration"]["assignPublicIp"] is False
        # A rollback would put an old image back on a migrated schema behind Pulumi's back (ecs._circuit_breaker).
        assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": False}


def test_services_run_in_the_private_subnets(dev, prod):
    dev_private = {s.id for s in dev.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name}
    assert len(dev_private) == 2
    for mocks, private in ((dev, dev_private), (prod, set(PROD_ARGS["private_subnet_ids"]))):
        for service in mocks.of_type(SERVICE):
            assert set(service.inputs["networkConfiguration"]["subnets"]) == private


def test_a_given_vpc_creates_no_network(prod):
    for type_token in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"):
        assert prod.of_type(type_token) == []
    assert set(prod.one("aws:lb/loadBalancer:LoadBalancer").inputs["subnets"]) == set(PROD_ARGS["public_subnet_ids"])


def test_created_vpc_spans_two_zones_with_nat_for_private_subnets(dev):
    subnets = dev.of_type("aws:ec2/subnet:Subnet")
    assert len({s.inputs["availabilityZoneId"] for s in subnets if "-private-" in s.name}) == 2
    assert len({s.inputs["availabilityZoneId"] for s in subnets if "-public-" in s.name}) == 2
    nat = dev.one("aws:ec2/natGateway:NatGateway")
    public_ids = {s.id for s in subnets if "-public-" in s.name}
    assert nat.inputs["subnetId"] in public_ids
    private_route = dev.one("aws:ec2/route:Route", f"{DEV_NAME}-private-default")
    assert private_route.inputs["natGatewayId"] == nat.id
    # dev's load balancer is internal (test_load_balancer.py), in the private subnets
    private_ids = {s.id for s in subnets if "-private-" in s.name}
    assert set(dev.one("aws:lb/loadBalancer:LoadBalancer").inputs["subnets"]) == private_ids


def test_every_task_runs_the_pushed_image_by_digest(built):
    digest = built.one(DOCKER_IMAGE).outputs["repoDigest"]
    assert "@sha256:" in digest
    images = {c["image"] for _, c in built.all_containers() if c["name"] not in (REDIS.name, AGENT_CONTAINER)}
    assert images == {digest}


def test_image_is_built_from_the_dockerfile_with_ecr_credentials(dev):
    image = dev.one(DOCKER_IMAGE)
    context = image.inputs["build"]["context"]
    assert image.inputs["build"]["dockerfile"] == f"{context}/image/Dockerfile"  # staged (test_build_context.py)
    assert image.inputs["imageName"].startswith(dev.one("aws:ecr/repository:Repository").outputs["repositoryUrl"])
    assert image.inputs["registry"]["password"] == harness.ECR_PASSWORD
    assert "registry" in image.secret_inputs


def test_a_given_image_skips_the_build(variant):
    assert variant.of_type(DOCKER_IMAGE) == []
    containers = {c["image"] for _, c in variant.all_containers() if c["name"] not in (REDIS.name, AGENT_CONTAINER)}
    assert containers == {VARIANT_ARGS["image"]}


def test_ecr_repository_scans_keeps_20_images_and_follows_force_delete(dev, variant):
    repo = dev.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["forceDelete"] is False
    (rule,) = json.loads(dev.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"]
    assert rule["selection"]["countNumber"] == 20
    assert variant.one("aws:ecr/repository:Repository").inputs["forceDelete"] is True
    assert variant.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is True


def test_task_log_bucket_is_private_and_encrypted(dev):
    bucket = dev.one("aws:s3/bucket:Bucket")
    block = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.inputs["bucket"] == bucket.id
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert block.inputs[key] is True
    (rule,) = dev.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert bucket.inputs["forceDestroy"] is False


def test_task_log_bucket_refuses_requests_without_tls(dev):
    bucket = dev.one("aws:s3/bucket:Bucket")
    policy = dev.one("aws:s3/bucketPolicy:BucketPolicy").inputs
    assert policy["bucket"] == bucket.id
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    arn = bucket.outputs["arn"]
    assert statement["Resource"] == [arn, f"{arn}/*"]


def test_task_role_is_separate_and_limited_to_the_log_prefix(dev):
    bucket_arn = dev.one("aws:s3/bucket:Bucket").outputs["arn"]
    task_role = dev.one("aws:iam/role:Role", f"{DEV_NAME}-task-role")
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", f"{DEV_NAME}-task-role-logs").inputs["policy"])
    grants = {(tuple(s["Action"]), tuple(s["Resource"])) for s in policy["Statement"]}
    assert grants == {
        (("s3:ListBucket",), (bucket_arn,)),
        (("s3:GetObject", "s3:PutObject"), (f"{bucket_arn}/logs/*",)),
    }
    own = {
        f"{DEV_NAME}-worker-task": f"{DEV_NAME}-worker-task-role",  # scale-in protection (test_scaling.py)
        f"{DEV_NAME}-flower-task": f"{DEV_NAME}-flower-task-role",  # ECS Exec only (test_flower_exec)
        f"{DEV_NAME}-redis-task": f"{DEV_NAME}-redis-task-role",  # mounts its EFS volume (test_broker.py)
        # they publish Airflow's metrics (test_airflow_metrics.py); the scheduler too, without autoscaling
        f"{DEV_NAME}-dag-processor-task": f"{DEV_NAME}-dag-processor-task-role",
        f"{DEV_NAME}-triggerer-task": f"{DEV_NAME}-triggerer-task-role",
        f"{DEV_NAME}-scheduler-task": f"{DEV_NAME}-scheduler-task-role",
    }
    # the one-off tasks (housekeeping, migrate) have no task role: they call no AWS API (test_housekeeping.py,
    # test_migration.py)
    for task in role_task_definitions(dev):
        role = dev.one("aws:iam/role:Role", own[task.name]) if task.name in own else task_role
        assert task.inputs["taskRoleArn"] == role.outputs["arn"]
        assert task.inputs["executionRoleArn"] != task.inputs["taskRoleArn"]
    worker_logs = dev.one("aws:iam/rolePolicy:RolePolicy", f"{DEV_NAME}-worker-task-role-logs").inputs["policy"]
    assert json.loads(worker_logs) == policy


def test_cloud_map_names_api_server_and_redis(dev, prod):
    namespace = dev.one("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    assert namespace.inputs["name"] == f"{DEV_NAME}.airflow.internal"
    assert {s.inputs["name"] for s in dev.of_type("aws:servicediscovery/service:Service")} == {"api-server", "redis"}
    assert {s.inputs["name"] for s in prod.of_type("aws:servicediscovery/service:Service")} == {"api-server"}
    registries = {s.name: s.inputs.get("serviceRegistries", {}).get("registryArn") for s in dev.of_type(SERVICE)}
    assert registries[f"{DEV_NAME}-api-server-service"].endswith("api-server-discovery")
    assert registries[f"{DEV_NAME}-redis-service"].endswith("redis-discovery")
    assert registries[f"{DEV_NAME}-worker-service"] is None


def test_run_program_runs_a_stack_program_with_config(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "from airflow_celery import AirflowCeleryCluster\n"
        "config = pulumi.Config()\n"
        "cluster = AirflowCeleryCluster(config.require('name'), {'worker_count': config.require_int('workers'), "
        "'db_instance_class': 'db.t4g.medium'})\n"
        "pulumi.export('airflow_url', cluster.airflow_url)\n"
        "pulumi.export('admin_password_arn', cluster.admin_password_secret_arn)\n"
    )
    mocks = harness.run_program(program, "test", {"name": "prog", "workers": 2})
    assert mocks.one(SERVICE, "prog-worker-service").inputs["desiredCount"] == 2
    assert mocks.stack_outputs["airflow_url"].startswith("http://prog-alb")
    assert mocks.stack_outputs["admin_password_arn"].endswith("prog-admin-password")


def test_jwt_issuer_is_unique_per_deployment(dev, prod):
    """[api_auth] jwt_issuer should be unique per deployment (Airflow config.yml): project, stack and name."""
    issuers = {}
    for mocks, stack in ((dev, "dev"), (prod, "prod")):
        values = {e["value"] for _, c in mocks.all_containers() for e in c["environment"] if e["name"] == JWT_ISSUER}
        (issuers[stack],) = values
    assert issuers == {
        "dev": f"airflow-celery:{harness.PROJECT}/dev/{DEV_NAME}",
        "prod": f"airflow-celery:{harness.PROJECT}/prod/{PROD_NAME}",
    }


def test_every_task_definition_deletes_local_logs_once_uploaded(built):
    for _, container in built.all_containers():
        environment = {e["name"]: e["value"] for e in container.get("environment", [])}
        if environment.get("AIRFLOW__LOGGING__REMOTE_LOGGING") == "True":
            assert environment["AIRFLOW__LOGGING__DELETE_LOCAL_LOGS"] == "True", container["name"]


def test_load_balancer_grace_is_the_containers_health_deadline(built):
    """ECS gives a container startPeriod + interval x retries; the load balancer may not kill it sooner."""
    from airflow_celery.cluster.roles import STARTUP_DEADLINE

    component = built.components[0].name
    for role_name in ("api-server", "flower") if component == PROD_NAME else ("api-server",):
        service = built.one("aws:ecs/service:Service", f"{component}-{role_name}-service").inputs
        assert service["healthCheckGracePeriodSeconds"] == STARTUP_DEADLINE
    for _, container in built.all_containers():
        check = container.get("healthCheck")
        if check:
            assert check["startPeriod"] + check["interval"] * check["retries"] == STARTUP_DEADLINE
            assert check["startPeriod"] <= 300
