"""The resources the component registered, grouped by concern with a count per type."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from airflow_celery.aws.offline import COMPONENT_TYPE, RecordingMocks

CONCERNS: tuple[str, ...] = (
    "network",
    "image",
    "ECS",
    "broker",
    "database",
    "secrets",
    "load balancer",
    "logs",
    "scaling",
    "monitoring",
)
OTHER = "other"

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("aws:ec2/", "network"),
    ("aws:vpc/", "network"),
    ("aws:servicediscovery/", "network"),
    ("aws:ecr/", "image"),
    ("docker:", "image"),
    ("aws:ecs/clusterCapacityProviders", "scaling"),
    ("aws:ecs/", "ECS"),
    ("aws:iam/", "ECS"),
    ("aws:elasticache/", "broker"),
    ("aws:efs/", "broker"),
    ("aws:lambda/", "ECS"),
    ("aws:rds/", "database"),
    ("aws:secretsmanager/", "secrets"),
    ("random:", "secrets"),
    ("aws:lb/", "load balancer"),
    ("aws:cloudwatch/logGroup", "logs"),
    ("aws:s3/", "logs"),
    ("aws:appautoscaling/", "scaling"),
    ("aws:cloudwatch/metricAlarm", "monitoring"),
    ("aws:cloudwatch/dashboard", "monitoring"),
    ("aws:cloudwatch/logMetricFilter", "monitoring"),
    ("aws:sns/", "monitoring"),
    ("aws:kms/", "monitoring"),  # the alarms' topic's key (aws/alarms.py topic_key)
    ("aws:scheduler/schedule", "scaling"),  # hibernation: the database stops and starts on a schedule
)
"""Type-token prefixes, most specific first. IAM roles are ECS's (execution and task roles); the S3 bucket
holds task logs; Cloud Map is the private DNS the tasks find each other by; EFS holds a Fargate Redis's
append-only file; the Lambda function runs the migrate step (aws/migration.py); the one KMS key encrypts the
alarms' topic."""


def concern_of(type_token: str) -> str:
    """The concern a resource type belongs to, or "other" for a type this table does not know yet."""
    for prefix, concern in _PREFIXES:
        if type_token.startswith(prefix):
            return concern
    return OTHER


def short_type(type_token: str) -> str:
    """aws:ecs/service:Service -> aws:ecs:Service, the form people read."""
    package, _, rest = type_token.partition(":")
    module, _, name = rest.partition(":")
    return f"{package}:{module.split('/')[0]}:{name}" if name else type_token


@dataclass(frozen=True)
class ResourceGroups:
    by_concern: dict[str, dict[str, int]]
    """Concern -> full type token -> count, in CONCERNS order (then "other" if any)."""

    @property
    def total(self) -> int:
        return sum(sum(types.values()) for types in self.by_concern.values())


def group(mocks: RecordingMocks) -> ResourceGroups:
    counts = Counter(record.type for record in mocks.records if record.type != COMPONENT_TYPE)
    grouped: dict[str, dict[str, int]] = {concern: {} for concern in (*CONCERNS, OTHER)}
    for type_token, count in sorted(counts.items()):
        grouped[concern_of(type_token)][type_token] = count
    if not grouped[OTHER]:
        del grouped[OTHER]
    return ResourceGroups(grouped)
