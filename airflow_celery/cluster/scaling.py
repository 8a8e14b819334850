"""How many Celery workers the cluster wants: one decision, read by the cloud metric publisher and the local
autoscaler alike. Plain Python: no AWS, no Airflow.

The rule is KEDA's and MWAA's: every queued or running task instance needs one slot, so
`ceil((queued + running) / concurrency)` workers, clamped to min..max. Scaling out follows it at once; scaling
in waits, so that a burst does not flap:

- hysteresis: a worker is let go only when the remaining ones would still have `hysteresis_slots` spare slots
  each time the load is counted (an idle cluster needs no headroom: zero load may go to zero workers);
- cool-down: the lower count must hold for `scale_in_cooldown` seconds, and the highest count wanted during
  that time is the one scaled in to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_celery.cluster.roles import STARTUP_DEADLINE

DEFAULT_SCALE_IN_COOLDOWN = 300
"""Seconds a lower worker count must be wanted before workers are stopped (the KEDA chart's cooldownPeriod)."""
DEFAULT_PUBLISH_INTERVAL = 30
"""Seconds between two countings of the load: CloudWatch alarms look at 60 s periods, so twice per period."""
METRIC_PERIOD = 60
"""The period of the DesiredWorkers alarm (aws/scaling.py), one evaluation period."""

COLD_START_SECONDS = DEFAULT_PUBLISH_INTERVAL + 2 * METRIC_PERIOD + STARTUP_DEADLINE
"""Worst case from a task queued with zero workers to a worker taking it on Fargate (600 s): the autoscaler counts
it within one publish interval, the alarm sees the metric at the end of its period and acts within one more
(CloudWatch's evaluation runs after the period closes), and the new worker has the start-up deadline
(roles.py, STARTUP_DEADLINE: 450 s) to pass its health check and consume."""
TASK_QUEUED_TIMEOUT = 900
"""`[scheduler] task_queued_timeout`: seconds a task may stay queued before the scheduler re-sends it (twice at
most) and then fails it. Airflow's 600 s is exactly COLD_START_SECONDS, so a slow cold start from zero workers
would have its first tasks re-sent (a revoke and a duplicate message) just as the worker arrives; 900 s is the cold
start plus five minutes: room for a slow image pull. A message lost with its broker waits this long (README)."""


@dataclass(frozen=True)
class Load:
    """Task instances that need a slot now: sent to Celery (queued) or on a worker (running)."""

    queued: int
    running: int

    @property
    def tasks(self) -> int:
        return max(0, self.queued) + max(0, self.running)


@dataclass(frozen=True)
class ScalingRule:
    """The bounds and timing of the decision; `validate` says what is wrong, naming the field."""

    min_workers: int
    max_workers: int
    concurrency: int
    scale_in_cooldown: float = DEFAULT_SCALE_IN_COOLDOWN
    hysteresis_slots: int | None = None
    """Spare slots a scale-in keeps; None means a quarter of a worker's slots (rounded down)."""

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    def problem(self) -> str | None:
        if self.concurrency < 1:
            return f"concurrency={self.concurrency}: at least 1 slot per worker"
        if not 0 <= self.min_workers <= self.max_workers:
            return f"min_workers={self.min_workers}, max_workers={self.max_workers}: need 0 <= min <= max"
        if self.max_workers < 1:
            return f"max_workers={self.max_workers}: at least 1, or no task ever runs"
        if self.scale_in_cooldown < 0:
            return f"scale_in_cooldown={self.scale_in_cooldown}: not negative"
        if self.hysteresis_slots is not None and not 0 <= self.hysteresis_slots < self.concurrency:
            return f"hysteresis_slots={self.hysteresis_slots}: from 0 to concurrency - 1 ({self.concurrency - 1})"
        return None

    @property
    def spare_slots(self) -> int:
        return self.concurrency // 4 if self.hysteresis_slots is None else self.hysteresis_slots

    @property
    def autoscaling(self) -> bool:
        return self.min_workers < self.max_workers

    def clamp(self, workers: int) -> int:
        return min(self.max_workers, max(self.min_workers, workers))


def workers_for(load: Load, rule: ScalingRule) -> int:
    """The rule itself: ceil((queued + running) / concurrency), clamped to min..max."""
    return rule.clamp(math.ceil(load.tasks / rule.concurrency))


def workers_to_keep(load: Load, rule: ScalingRule) -> int:
    """The fewest workers that hold the load with the hysteresis's spare slots; zero load keeps none."""
    if load.tasks == 0:
        return rule.clamp(0)
    return rule.clamp(math.ceil((load.tasks + rule.spare_slots) / rule.concurrency))


@dataclass(frozen=True)
class ScaleInWindow:
    """A scale-in under way: since when fewer workers have been wanted, and the most wanted since then."""

    since: float
    highest: int


@dataclass(frozen=True)
class Decision:
    desired: int
    window: ScaleInWindow | None
    """Carry it into the next call to `decide`."""
    reason: str


def decide(load: Load, current: int | None, rule: ScalingRule, now: float, window: ScaleInWindow | None) -> Decision:
    """The workers to run now, given the load, the workers running (or last asked for; None when unknown) and
    the scale-in window carried from the previous call. `now` is any monotonic clock, in seconds."""
    wanted = workers_for(load, rule)
    if current is None:
        return Decision(wanted, None, f"first count: {load.tasks} task(s) need {wanted} worker(s)")
    current = rule.clamp(current)
    if wanted > current:
        return Decision(wanted, None, f"scale out: {load.tasks} task(s) need {wanted} worker(s)")
    keep = workers_to_keep(load, rule)
    if keep >= current:
        return Decision(current, None, f"hold: {load.tasks} task(s) fit {current} worker(s)")
    if window is None:
        window = ScaleInWindow(since=now, highest=keep)
    else:
        window = ScaleInWindow(since=window.since, highest=max(window.highest, keep))
    waited = now - window.since
    if waited >= rule.scale_in_cooldown:
        return Decision(window.highest, None, f"scale in after {waited:.0f} s: {load.tasks} task(s)")
    return Decision(
        current, window, f"cool-down: {window.highest} worker(s) would do, {rule.scale_in_cooldown - waited:.0f} s left"
    )


class Autoscaler:
    """`decide` with its state kept: feed it a load each tick, it returns the workers to run."""

    def __init__(self, rule: ScalingRule, current: int | None = None):
        self.rule = rule
        self.current = current
        self.window: ScaleInWindow | None = None
        self.reason = ""

    def tick(self, load: Load, now: float) -> int:
        decision = decide(load, self.current, self.rule, now, self.window)
        self.current, self.window, self.reason = decision.desired, decision.window, decision.reason
        return decision.desired
