"""The enums arguments of AirflowCeleryCluster take, the validated hibernation schedule, and the error a bad
argument raises. (The TypedDicts are generated from the declarations: aws/args_typed_dict.py.)

The annotations here are read at run time twice: by resolve_args (the checks) and by Pulumi's schema inference
(airflow_celery/aws/provider.py, for every other Pulumi language), which accepts neither `Literal` nor unions
other than pulumi.Input; hence no `from __future__ import annotations` in this module. Type checkers still see
the plain strings Python callers have always passed (the `...Arg` aliases).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal


class ConfigError(ValueError):
    """A bad argument or stack config value: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


class RedisMode(StrEnum):
    """Where the Celery broker (Redis) runs."""

    FARGATE = "fargate"
    """A Redis container on Fargate: the cheap default."""
    ELASTICACHE = "elasticache"
    """An ElastiCache replication group with TLS and an AUTH token."""


class WorkerCapacity(StrEnum):
    """Where the Celery workers run."""

    FARGATE = "fargate"
    """Fargate on-demand: the default."""
    FARGATE_SPOT = "fargate-spot"
    """Fargate Spot: cheaper; a reclaimed worker gets SIGTERM and 120 s."""
    MIXED = "mixed"
    """worker_min_count workers on-demand, the rest on Spot."""


if TYPE_CHECKING:
    RedisModeArg = RedisMode | Literal["fargate", "elasticache"]
    WorkerCapacityArg = WorkerCapacity | Literal["fargate", "fargate-spot", "mixed"]
else:
    RedisModeArg = RedisMode
    WorkerCapacityArg = WorkerCapacity


HIBERNATION_DAYS = {"MON-FRI": 5, "MON-SAT": 6, "SUN-SAT": 7}
"""Day ranges a schedule may wake on, and how many days each is. None leaves a gap longer than the 7 days after
which RDS starts a stopped instance by itself."""


@dataclass(frozen=True)
class Hibernation:
    """A validated working-hours schedule: HibernationArgs with its declared defaults filled in."""

    days: str
    wake: int
    sleep: int
    timezone: str

    @property
    def awake_hours_per_week(self) -> int:
        return (self.sleep - self.wake) * HIBERNATION_DAYS[self.days]


def require(condition: bool, key: str, value: object, allowed: str) -> None:
    """Raise the ConfigError for `key` unless `condition` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)
