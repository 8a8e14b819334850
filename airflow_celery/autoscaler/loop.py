"""The autoscaler's loop: count, decide (cluster/scaling.py), act; every `interval` seconds, never crashing."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airflow_celery.cluster.env import CONCURRENCY_VAR, SCALE_IN_COOLDOWN_VAR, WORKERS_MAX_VAR, WORKERS_MIN_VAR
from airflow_celery.cluster.roles import AUTOSCALER_HEARTBEAT_VAR
from airflow_celery.cluster.scaling import DEFAULT_PUBLISH_INTERVAL, Autoscaler, Load, ScalingRule

log = logging.getLogger("airflow_celery.autoscaler")


class Sink(Protocol):
    def current_workers(self) -> int | None:
        """Workers running now, or None when the sink cannot tell (then the last decision stands for it)."""

    def apply(self, load: Load, desired: int) -> None:
        """Act on the decision: publish it, or start and stop workers."""


def rule_from_env(env: Mapping[str, str]) -> ScalingRule:
    """The rule from the env contract (cluster/env.py, `_autoscaler`); a ValueError names the variable."""
    values = {}
    for field, variable in (
        ("min_workers", WORKERS_MIN_VAR),
        ("max_workers", WORKERS_MAX_VAR),
        ("concurrency", CONCURRENCY_VAR),
        ("scale_in_cooldown", SCALE_IN_COOLDOWN_VAR),
    ):
        raw = env.get(variable, "")
        try:
            values[field] = int(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r} is not a whole number") from None
    return ScalingRule(**values)


HEARTBEAT_VAR = AUTOSCALER_HEARTBEAT_VAR
DEFAULT_HEARTBEAT = "/tmp/autoscaler.alive"
"""Touched after every round that counted and acted: the role's health check (roles.py, AUTOSCALER) tests its age,
so an autoscaler whose every database round fails looks unhealthy and ECS restarts it."""


def touch(path: str) -> None:
    try:
        Path(path).touch()
    except OSError as error:
        log.warning("cannot touch the heartbeat file %s: %s", path, error)


def tick(scaler: Autoscaler, count: Callable[[], Load], sink: Sink, now: float) -> int | None:
    """One round; an error is logged and the round skipped (the next one tries again)."""
    try:
        load = count()
        current = sink.current_workers()
        if current is not None:
            scaler.current = current
        desired = scaler.tick(load, now)
        sink.apply(load, desired)
    except Exception as error:
        log.warning("autoscaler round failed, retrying next round: %s: %s", type(error).__name__, error)
        return None
    touch(os.environ.get(HEARTBEAT_VAR, DEFAULT_HEARTBEAT))
    log.info("queued=%d running=%d desired=%d (%s)", load.queued, load.running, desired, scaler.reason)
    return desired


@dataclass
class Lane:
    """One queue's autoscaling: its rule's state, its count and its sink (cluster/queues.py)."""

    queue: str
    scaler: Autoscaler
    count: Callable[[], Load]
    sink: Sink


def run_lanes(
    lanes: Sequence[Lane],
    interval: float = DEFAULT_PUBLISH_INTERVAL,
    rounds: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Tick every queue's lane every `interval` seconds (forever, or `rounds` times): each decides alone, by the same
    rule, from its own queue's load."""
    done = 0
    while rounds is None or done < rounds:
        started = clock()
        for lane in lanes:
            if tick(lane.scaler, lane.count, lane.sink, started) is not None:
                log.info("queue %s: %s", lane.queue, lane.scaler.reason)
        done += 1
        if rounds is None or done < rounds:
            sleep(max(0.0, interval - (clock() - started)))


def run(
    rule: ScalingRule,
    count: Callable[[], Load],
    sink: Sink,
    interval: float = DEFAULT_PUBLISH_INTERVAL,
    rounds: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Tick every `interval` seconds (forever, or `rounds` times)."""
    scaler = Autoscaler(rule)
    done = 0
    while rounds is None or done < rounds:
        started = clock()
        tick(scaler, count, sink, started)
        done += 1
        if rounds is None or done < rounds:
            sleep(max(0.0, interval - (clock() - started)))
