"""The types an argument of AirflowCeleryCluster takes beyond str, int and bool, and the error a bad one raises.

The annotations here are read at run time twice: by resolve_args (the checks) and by Pulumi's schema inference
(airflow_celery/aws/provider.py, for every other Pulumi language), which accepts neither `Literal` nor unions
other than pulumi.Input; hence no `from __future__ import annotations` in this module. Type checkers still see
the plain strings Python callers have always passed (the `...Arg` aliases).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, TypedDict


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


class RoleSizeArgs(TypedDict, total=False):
    """A Fargate task size for one role. Either field may be left out: it keeps the role's default."""

    cpu: int
    """CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384."""
    memory: int
    """Memory in MiB; must be a size Fargate allows with `cpu`."""


class HibernationArgs(TypedDict, total=False):
    """Working hours: the cluster runs from wake to sleep on `days`, and sleeps otherwise."""

    days: str
    """The days it wakes: "MON-FRI" (the default), "MON-SAT" or "SUN-SAT"."""
    wake: int
    """Hour (0-23) every service starts again, and the database. Default 7."""
    sleep: int
    """Hour (1-23, after `wake`) every service scales to zero and the database stops. Default 19."""
    timezone: str
    """IANA timezone of the hours, e.g. "Europe/Berlin". Default "UTC"."""


HIBERNATION_DAYS = {"MON-FRI": 5, "MON-SAT": 6, "SUN-SAT": 7}
"""Day ranges a schedule may wake on, and how many days each is. None leaves a gap longer than the 7 days after
which RDS starts a stopped instance by itself."""


@dataclass(frozen=True)
class Hibernation:
    """A validated working-hours schedule (HibernationArgs with its defaults)."""

    days: str = "MON-FRI"
    wake: int = 7
    sleep: int = 19
    timezone: str = "UTC"

    @property
    def awake_hours_per_week(self) -> int:
        return (self.sleep - self.wake) * HIBERNATION_DAYS[self.days]


def require(condition: bool, key: str, value: object, allowed: str) -> None:
    """Raise the ConfigError for `key` unless `condition` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)
