"""The only way in: an ALB sending / to the api-server (and /flower* to Flower when flower_on_load_balancer).

Internet-facing in the public subnets when allowed_cidrs names a public range; internal, in the private subnets,
when every allowed range is private (the default: the created VPC's own range).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from airflow_celery.aws.context import BuildContext
from airflow_celery.cluster.edges import LOAD_BALANCER, port_of
from airflow_celery.cluster.roles import API_SERVER, EXECUTION_API_PATH, FLOWER, HttpCheck, Role

HTTPS_PORT = port_of(LOAD_BALANCER, "https").number
HTTP_PORT = port_of(LOAD_BALANCER, "http").number
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
FLOWER_RULE_PRIORITY = 10
EXECUTION_API_RULE_PRIORITY = 5
EXECUTION_API_PATTERNS = (EXECUTION_API_PATH.rstrip("/"), f"{EXECUTION_API_PATH}*")
"""The Task Execution API is for workers only (they reach the api-server through Cloud Map): from outside, 404."""
NO_DOMAIN_WARNING = (
    "airflow-celery: certificate_arn is set but domain_name is not, so Airflow's base URL is the load balancer's "
    "own DNS name, which the certificate cannot cover: logins redirect to a certificate error. Set domain_name."
)
# Target-group names are capped at 32 characters and auto-naming adds 8: a prefix (at most 6 characters)
# keeps every component name valid and still lets Pulumi replace a group under a fresh name.
TARGET_GROUP_PREFIXES = {API_SERVER.name: "api-", FLOWER.name: "flowr-"}
TARGET_CHECK_INTERVAL = 10
TARGET_CHECK_TIMEOUT = 5
TARGET_HEALTHY_THRESHOLD = 2
TARGET_UNHEALTHY_THRESHOLD = 3
"""The load balancer's own view of each target, tighter than the container check (30 s x 5): with 2 or more
api-servers, a dead one leaves the rotation within 30 s (3 checks: one slow answer under a burst of task starts
does not take a busy one out), and a new one of a rolling deploy enters it 20 s after it answers; ECS stops an
old task only once its replacement is healthy here (minimumHealthyPercent 100)."""
DEREGISTRATION_DELAY = 30
"""Seconds a draining target keeps its in-flight requests before ECS stops it. The api-server's requests are short
(UI pages, REST calls, log fetches from workers bounded by [api] log_fetch_timeout_sec, 5 s); the workers' execution
API calls do not pass the load balancer at all (Cloud Map, discovery.py)."""
NO_CERTIFICATE_WARNING = (
    "airflow-celery: no certificate_arn given, so the Airflow UI, its login and Flower are served over PLAIN HTTP "
    "on port 80. Anyone on the path can read passwords and session cookies. Set certificate_arn for HTTPS."
)


@dataclass(frozen=True)
class LoadBalancer:
    alb: aws.lb.LoadBalancer
    target_groups: dict[str, aws.lb.TargetGroup]
    """Role name -> its target group (api-server, flower)."""
    listeners: list[aws.lb.Listener]
    routing: list[pulumi.Resource]
    """The listeners and the Flower rule: a service may only be created once its target group is routed to."""
    url: pulumi.Output[str]


def http_check(r: Role) -> HttpCheck:
    if not isinstance(r.health, HttpCheck):
        raise TypeError(f"role {r.name!r} needs an HttpCheck to sit behind the load balancer, has {r.health!r}")
    return r.health


def load_balancer(
    ctx: BuildContext,
    subnet_ids: Mapping[str, list[pulumi.Input[str]]],
    vpc_id: pulumi.Input[str],
    security_group: aws.ec2.SecurityGroup,
    flower_url_prefix: str,
) -> LoadBalancer:
    """`subnet_ids` by tier ("public", "private"): an internal load balancer lives in the private ones."""
    internal = ctx.config.internal_load_balancer
    alb = aws.lb.LoadBalancer(
        ctx.child_name("alb"),
        internal=internal,
        load_balancer_type="application",
        subnets=subnet_ids["private" if internal else "public"],
        security_groups=[security_group.id],
        drop_invalid_header_fields=True,
        tags=ctx.tags("alb"),
        opts=ctx.opts(),
    )
    served = (API_SERVER, FLOWER) if ctx.config.flower_on_load_balancer else (API_SERVER,)
    groups = {r.name: _target_group(ctx, vpc_id, r) for r in served}
    serving, listeners = _listeners(ctx, alb, groups[API_SERVER.name])
    denials = [_deny_execution_api(ctx, serving)]
    if ctx.config.flower_on_load_balancer:
        denials.append(_flower_rule(ctx, serving, groups[FLOWER.name], flower_url_prefix))
    scheme = "https" if ctx.config.https else "http"
    host = pulumi.Output.from_input(ctx.config.domain_name) if ctx.config.domain_name else alb.dns_name
    url = host.apply(lambda name: f"{scheme}://{name}")
    return LoadBalancer(alb, groups, listeners, [*listeners, *denials], url)


def _flower_rule(
    ctx: BuildContext, serving: aws.lb.Listener, group: aws.lb.TargetGroup, flower_url_prefix: str
) -> aws.lb.ListenerRule:
    return aws.lb.ListenerRule(
        ctx.child_name("flower-rule"),
        listener_arn=serving.arn,
        priority=FLOWER_RULE_PRIORITY,
        conditions=[
            aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=[f"{flower_url_prefix}*"])
            )
        ],
        actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=group.arn)],
        tags=ctx.tags("flower-rule"),
        opts=ctx.opts(),
    )


def _deny_execution_api(ctx: BuildContext, listener: aws.lb.Listener) -> aws.lb.ListenerRule:
    """A fixed 404 for /execution/* on a listener that forwards (the other one only redirects to it)."""
    return aws.lb.ListenerRule(
        ctx.child_name("execution-api-404"),
        listener_arn=listener.arn,
        priority=EXECUTION_API_RULE_PRIORITY,
        conditions=[
            aws.lb.ListenerRuleConditionArgs(
                path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(EXECUTION_API_PATTERNS))
            )
        ],
        actions=[
            aws.lb.ListenerRuleActionArgs(
                type="fixed-response",
                fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                    content_type="text/plain", message_body="Not Found", status_code="404"
                ),
            )
        ],
        tags=ctx.tags("execution-api-404"),
        opts=ctx.opts(),
    )


def _target_group(ctx: BuildContext, vpc_id: pulumi.Input[str], r: Role) -> aws.lb.TargetGroup:
    check = http_check(r)
    return aws.lb.TargetGroup(
        ctx.child_name(r.name, "tg"),
        name_prefix=TARGET_GROUP_PREFIXES[r.name],
        port=r.port(check.port).number,
        protocol="HTTP",
        target_type="ip",  # Fargate tasks (awsvpc) register by IP
        vpc_id=vpc_id,
        deregistration_delay=DEREGISTRATION_DELAY,
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            enabled=True,
            path=check.path,
            protocol="HTTP",
            matcher="200",
            interval=TARGET_CHECK_INTERVAL,
            timeout=TARGET_CHECK_TIMEOUT,
            healthy_threshold=TARGET_HEALTHY_THRESHOLD,
            unhealthy_threshold=TARGET_UNHEALTHY_THRESHOLD,
        ),
        tags=ctx.tags(r.name, "tg"),
        opts=ctx.opts(),
    )


def _listeners(
    ctx: BuildContext, alb: aws.lb.LoadBalancer, api_server: aws.lb.TargetGroup
) -> tuple[aws.lb.Listener, list[aws.lb.Listener]]:
    """HTTPS on 443 and a redirect on 80; without a certificate, plain HTTP on 80 and a warning."""
    forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=api_server.arn)]
    if not ctx.config.https:
        pulumi.log.warn(NO_CERTIFICATE_WARNING, resource=ctx.parent)
        http = _listener(ctx, alb, "http", HTTP_PORT, "HTTP", forward)
        return http, [http]
    if not ctx.config.domain_name:
        pulumi.log.warn(NO_DOMAIN_WARNING, resource=ctx.parent)
    https = _listener(
        ctx,
        alb,
        "https",
        HTTPS_PORT,
        "HTTPS",
        forward,
        certificate_arn=ctx.config.certificate_arn,
        ssl_policy=TLS_POLICY,
    )
    redirect = aws.lb.ListenerDefaultActionArgs(
        type="redirect",
        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
            port=str(HTTPS_PORT), protocol="HTTPS", status_code="HTTP_301"
        ),
    )
    http = _listener(ctx, alb, "http", HTTP_PORT, "HTTP", [redirect])
    return https, [https, http]


def _listener(
    ctx: BuildContext,
    alb: aws.lb.LoadBalancer,
    label: str,
    port: int,
    protocol: str,
    actions: list[aws.lb.ListenerDefaultActionArgs],
    **extra: str | None,
) -> aws.lb.Listener:
    return aws.lb.Listener(
        ctx.child_name(label, "listener"),
        load_balancer_arn=alb.arn,
        port=port,
        protocol=protocol,
        default_actions=actions,
        tags=ctx.tags(label, "listener"),
        opts=ctx.opts(),
        **extra,
    )
