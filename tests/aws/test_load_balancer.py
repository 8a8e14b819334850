"""The ALB: api-server at /, Flower at /flower*, HTTPS with a certificate, a loud warning without one."""

from __future__ import annotations

import json
import re

import botocore.session

from airflow_celery.aws.iam import EXEC_ACTIONS
from airflow_celery.aws.load_balancer import FLOWER_RULE_PRIORITY, NO_CERTIFICATE_WARNING, NO_DOMAIN_WARNING
from airflow_celery.cluster.roles import API_SERVER, FLOWER
from tests.aws import harness
from tests.aws.conftest import DEV_NAME, PROD_ARGS, PROD_DOMAIN, PROD_NAME

LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
SERVICE = "aws:ecs/service:Service"


def _groups(mocks, cluster):
    return {g.name.removeprefix(f"{cluster}-").removesuffix("-tg"): g for g in mocks.of_type(TARGET_GROUP)}


def test_alb_is_internet_facing_only_for_public_allowed_cidrs(dev, prod):
    """prod names public office ranges: internet-facing, in the public subnets. dev names nobody: its load balancer
    is internal, in the private subnets, open only to the VPC's own range."""
    alb = prod.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert (alb["internal"], alb["loadBalancerType"]) == (False, "application")
    assert alb["subnets"] == PROD_ARGS["public_subnet_ids"]
    alb = dev.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is True
    private = sorted(s.id for s in dev.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    assert sorted(alb["subnets"]) == private
    open_to = {
        r.inputs.get("cidrIpv4") for r in dev.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    }
    assert "0.0.0.0/0" not in open_to and "10.0.0.0/16" in open_to


def test_setting_a_public_address_makes_an_internet_facing_load_balancer():
    mocks = harness.build_component("mine", {"allowed_cidrs": ["198.51.100.7/32"]})
    alb = mocks.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is False
    assert sorted(alb["subnets"]) == sorted(
        s.id for s in mocks.of_type("aws:ec2/subnet:Subnet") if "-public-" in s.name
    )


def test_without_certificate_http_forwards_and_warns(dev):
    (listener,) = dev.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    (action,) = listener.inputs["defaultActions"]
    assert action["type"] == "forward"
    assert action["targetGroupArn"] == _groups(dev, DEV_NAME)[API_SERVER.name].outputs["arn"]
    assert NO_CERTIFICATE_WARNING in dev.warnings


def test_with_certificate_https_serves_and_http_redirects(prod):
    listeners = {x.inputs["port"]: x.inputs for x in prod.of_type(LISTENER)}
    assert set(listeners) == {443, 80}
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == PROD_ARGS["certificate_arn"]
    assert https["defaultActions"][0]["targetGroupArn"] == _groups(prod, PROD_NAME)[API_SERVER.name].outputs["arn"]
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
    assert prod.warnings == []


def test_target_groups_use_ip_targets_and_the_description_health_checks(prod):
    built = prod
    (component,) = built.components
    groups = _groups(built, component.name)
    assert set(groups) == {API_SERVER.name, FLOWER.name}
    for r in (API_SERVER, FLOWER):
        inputs = groups[r.name].inputs
        assert inputs["targetType"] == "ip"
        assert inputs["port"] == r.port("http").number
        assert inputs["healthCheck"]["path"] == r.health.path
    assert groups[API_SERVER.name].inputs["healthCheck"]["path"] == "/api/v2/version"
    assert groups[FLOWER.name].inputs["healthCheck"]["path"] == "/flower/healthcheck"


def test_flower_is_off_the_load_balancer_by_default(dev):
    assert set(_groups(dev, DEV_NAME)) == {API_SERVER.name}
    assert not [r for r in dev.of_type(LISTENER_RULE) if r.name.endswith("flower-rule")]
    assert "loadBalancers" not in dev.one("aws:ecs/service:Service", f"{DEV_NAME}-flower-service").inputs


def test_flower_is_reached_through_ecs_exec_with_only_the_exec_channels(dev):
    services = {s.name.removeprefix(f"{DEV_NAME}-").removesuffix("-service"): s for s in dev.of_type(SERVICE)}
    assert {name for name, s in services.items() if s.inputs.get("enableExecuteCommand")} == {FLOWER.name}
    task = dev.one("aws:ecs/taskDefinition:TaskDefinition", f"{DEV_NAME}-flower-task").inputs
    role = dev.one("aws:iam/role:Role", f"{DEV_NAME}-flower-task-role")
    assert task["taskRoleArn"] == role.outputs["arn"]
    policies = [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id]
    (policy,) = policies
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert sorted(statement["Action"]) == sorted(EXEC_ACTIONS) and statement["Resource"] == "*"


def test_ecs_takes_execute_command_per_service():
    """CreateService takes enableExecuteCommand (botocore's ecs model). The four ssmmessages actions are from the
    ECS Exec documentation; botocore ships no ssmmessages model to check them against."""
    ecs = botocore.session.get_session().get_service_model("ecs")
    assert "enableExecuteCommand" in ecs.operation_model("CreateService").input_shape.members


def test_flower_rule_on_the_serving_listener(prod):
    for mocks, cluster, port in ((prod, PROD_NAME, 443),):
        rule = mocks.one(LISTENER_RULE, f"{cluster}-flower-rule").inputs
        serving = next(x for x in mocks.of_type(LISTENER) if x.inputs["port"] == port)
        assert rule["listenerArn"] == serving.outputs["arn"]
        assert rule["conditions"] == [{"pathPattern": {"values": ["/flower*"]}}]
        assert rule["actions"][0]["targetGroupArn"] == _groups(mocks, cluster)[FLOWER.name].outputs["arn"]


def test_services_behind_the_load_balancer(built):
    (component,) = built.components
    groups = _groups(built, component.name)
    for r in (API_SERVER, FLOWER) if component.name == PROD_NAME else (API_SERVER,):
        service = built.one("aws:ecs/service:Service", f"{component.name}-{r.name}-service")
        (attachment,) = service.inputs["loadBalancers"]
        assert attachment == {
            "targetGroupArn": groups[r.name].outputs["arn"],
            "containerName": r.name,
            "containerPort": r.port("http").number,
        }
    worker = built.one("aws:ecs/service:Service", f"{component.name}-worker-service")
    assert "loadBalancers" not in worker.inputs


def test_domain_name_is_the_public_url_of_airflow_and_the_outputs(prod):
    (component,) = prod.components
    assert component.registered_outputs["airflow_url"] == f"https://{PROD_DOMAIN}"
    assert component.registered_outputs["flower_url"] == f"https://{PROD_DOMAIN}/flower/"
    (container,) = [c for _, c in prod.all_containers() if c["name"] == API_SERVER.name]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["AIRFLOW__API__BASE_URL"] == f"https://{PROD_DOMAIN}"


def test_certificate_without_domain_name_warns_that_logins_will_hit_a_certificate_error():
    args = {k: v for k, v in PROD_ARGS.items() if k != "domain_name"}
    mocks = harness.build_component(PROD_NAME, args, stack="prod")
    assert mocks.warnings == [NO_DOMAIN_WARNING]
    (component,) = mocks.components
    assert component.registered_outputs["airflow_url"].endswith(".elb.amazonaws.com")


def _forwards(listener) -> bool:
    return any(action["type"] == "forward" for action in listener.inputs["defaultActions"])


def test_execution_api_gets_a_fixed_404_on_every_listener_that_forwards(built):
    """Only workers call /execution/ (through Cloud Map); from the internet it must not reach the api-server."""
    listeners = [x for x in built.of_type(LISTENER) if _forwards(x)]
    rules = [
        r for r in built.of_type(LISTENER_RULE) if "/execution/*" in r.inputs["conditions"][0]["pathPattern"]["values"]
    ]
    flower_priority = FLOWER_RULE_PRIORITY

    assert listeners
    assert sorted(r.inputs["listenerArn"] for r in rules) == sorted(x.outputs["arn"] for x in listeners)
    for rule in rules:
        assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/execution", "/execution/*"]}}]
        (action,) = rule.inputs["actions"]
        assert action["type"] == "fixed-response"
        assert action["fixedResponse"]["statusCode"] == "404"
        assert rule.inputs["priority"] < flower_priority


def test_the_fixed_response_is_one_elbv2_accepts(built):
    """botocore's elbv2 model (FixedResponseActionConfig, CreateRule): status code pattern, body size, priority."""
    model = botocore.session.get_session().get_service_model("elbv2")
    members = model.shape_for("FixedResponseActionConfig").members
    priority = model.operation_model("CreateRule").input_shape.members["Priority"].metadata
    (rule,) = [r for r in built.of_type(LISTENER_RULE) if r.name.endswith("execution-api-404")]
    response = rule.inputs["actions"][0]["fixedResponse"]

    assert re.fullmatch(members["StatusCode"].metadata["pattern"], response["statusCode"])
    assert len(response["messageBody"]) <= members["MessageBody"].metadata["max"]
    assert response["contentType"] in members["ContentType"].documentation
    assert priority["min"] <= rule.inputs["priority"] <= priority["max"]


def test_target_health_is_tighter_than_the_container_check_and_drains_before_stop(built):
    """A dead api-server leaves the UI's rotation in 3 x 10 s, a new one enters it in 2 x 10 s, both well inside
    the container check's 5 x 30 s; a draining one keeps 30 s for its in-flight requests."""
    (component,) = built.components
    for group in _groups(built, component.name).values():
        check = group.inputs["healthCheck"]
        assert check["interval"] * check["unhealthyThreshold"] == 30
        assert check["interval"] * check["healthyThreshold"] == 20
        assert check["timeout"] < check["interval"]
        assert group.inputs["deregistrationDelay"] == 30
    assert API_SERVER.health.interval * API_SERVER.health.retries > 30
