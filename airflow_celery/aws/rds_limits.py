"""RDS PostgreSQL instance classes the component accepts, and the connections each allows.

The default parameter group sets `max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000)`
(AWS Prescriptive Guidance, "Tuning PostgreSQL parameters: max_connections"). DBInstanceClassMemory is the
class's memory less what RDS keeps for the operating system and its own processes; AWS does not publish that
share, so the budget assumes only USABLE_MEMORY_SHARE of the nominal memory is counted. Check a running
instance with `SHOW max_connections`.
"""

from __future__ import annotations

GIB = 1024**3
MAX_CONNECTIONS_DIVISOR = 9531392
MAX_CONNECTIONS_CAP = 5000
USABLE_MEMORY_SHARE = 0.75
"""A deliberately low estimate of DBInstanceClassMemory / nominal memory, so the budget errs on the safe side."""

_BURSTABLE = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
_GENERAL = {"large": 8, "xlarge": 16, "2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "16xlarge": 256}
_MEMORY = {size: gib * 2 for size, gib in _GENERAL.items()}

INSTANCE_CLASS_MEMORY_GIB: dict[str, int] = {
    **{f"db.{family}.{size}": gib for family in ("t3", "t4g") for size, gib in _BURSTABLE.items()},
    **{f"db.{family}.{size}": gib for family in ("m5", "m6g", "m6i", "m7g", "m7i") for size, gib in _GENERAL.items()},
    **{f"db.{family}.{size}": gib for family in ("r5", "r6g", "r6i", "r7g", "r7i") for size, gib in _MEMORY.items()},
}
"""Nominal memory of every RDS PostgreSQL class the component accepts (Amazon RDS DB instance classes)."""


def max_connections(instance_class: str) -> int:
    """The `max_connections` the default parameter group gives this class, with the memory share above."""
    usable = INSTANCE_CLASS_MEMORY_GIB[instance_class] * GIB * USABLE_MEMORY_SHARE
    return min(int(usable // MAX_CONNECTIONS_DIVISOR), MAX_CONNECTIONS_CAP)


def smallest_class_for(connections: int, like: str) -> str | None:
    """The smallest class of the same family as `like` whose max_connections holds `connections`."""
    family = like.split(".")[1]
    fitting = [
        name
        for name, gib in sorted(INSTANCE_CLASS_MEMORY_GIB.items(), key=lambda item: item[1])
        if name.split(".")[1] == family and max_connections(name) >= connections
    ]
    return fitting[0] if fitting else None
