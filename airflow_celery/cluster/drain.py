"""The drain protocol: when a Celery worker takes tasks, when it is protected, and when it may be stopped.
Plain Python: no AWS, no Airflow. Read by the worker itself on ECS and locally (autoscaler/protection.py) and
by the local autoscaler (local/autoscaler.py).

A worker goes for one of two reasons: it is superseded (on ECS its task belongs to a deployment that is no
longer the service's PRIMARY one; locally a rollout says so) or a scale-in chose it. Either way:

1. it stops consuming its queues first (Celery's `cancel_consumer`): no new task reaches it, so it never runs
   a new task with superseded DAG code and never takes a task just before it is stopped;
2. it keeps its protection while it finishes what it holds (active and reserved tasks);
3. only when it holds nothing does it drop its protection (ECS may stop it now) or, locally, get stopped.

A worker that serves (is not going) is always protected, idle or not: the only way ECS may stop it is that it
first stopped consuming. If it was asked to go and is wanted again before it was stopped, it consumes again.

Protection of a draining worker is capped (`DRAIN_PROTECTION_CAP`); see there for what happens to a task that
runs longer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DRAIN_PATH_VAR = "AIRFLOW_CELERY_DRAIN_PATH"
"""Local mode: `<state>/run/drain/worker-N`, set on each worker program (local/programs.py). `<path>.go` asks
the worker to go; the worker writes its state to `<path>.json`."""
DRAIN_PROTECTION_CAP = 3600.0
"""Seconds a draining worker stays protected while it still runs tasks. A rolling deploy or a scale-in waits
for it at most this long. One hour covers the long tail of ordinary Airflow tasks while bounding how long a
deploy can hang on a worker running old code (ECS's own default protection is 2 h; the API's maximum is 48 h).

After the cap the worker is released although it still runs tasks: ECS stops it with SIGTERM (a Celery warm
shutdown, the tasks keep running), waits the container's stopTimeout (120 s, the Fargate maximum), then sends
SIGKILL. The killed task's heartbeats stop; after `[scheduler] task_instance_heartbeat_timeout` the scheduler
fails it and, with retries left (the cluster's default is at least one), runs it again on a current worker."""


@dataclass(frozen=True)
class Step:
    """What a worker should do now."""

    consume: bool
    """Consume its queues (add_consumer) or not (cancel_consumer)."""
    protect: bool
    """Hold scale-in protection (ECS) / must not be stopped (local)."""
    release: bool
    """It may be stopped now: it went and holds nothing, or its drain reached the cap."""
    reason: str


def decide(holds: int, must_go: bool, draining_for: float | None, cap: float = DRAIN_PROTECTION_CAP) -> Step:
    """One decision. `holds`: tasks active or reserved in the worker (a task just received counts); `must_go`:
    superseded or chosen by a scale-in; `draining_for`: seconds since it stopped consuming (None: it consumes)."""
    if not must_go:
        return Step(consume=True, protect=True, release=False, reason="serving: consume, protected")
    if holds <= 0:
        return Step(consume=False, protect=False, release=True, reason="drained: holds nothing, may be stopped")
    waited = draining_for or 0.0
    if waited >= cap:
        return Step(
            consume=False,
            protect=False,
            release=True,
            reason=f"drain cap of {cap:.0f} s reached with {holds} task(s) still running: released",
        )
    return Step(consume=False, protect=True, release=False, reason=f"draining: {holds} task(s) to finish")


class DrainClock:
    """Since when a worker has been going: `draining_for` for `decide`, reset when it is wanted again."""

    def __init__(self) -> None:
        self.since: float | None = None

    def tick(self, must_go: bool, now: float) -> float | None:
        if not must_go:
            self.since = None
            return None
        if self.since is None:
            self.since = now
        return now - self.since


def choose_to_go(holds: Mapping[str, int | None], count: int) -> list[str]:
    """The `count` workers a scale-in lets go: the ones holding the fewest tasks, so the drain is short. A worker
    whose load is unknown (None) goes last; ties go to the one listed last (locally, the highest-numbered)."""
    if count <= 0:
        return []
    order = list(holds)
    ranked = sorted(order, key=lambda name: (holds[name] is None, holds[name] or 0, -order.index(name)))
    return ranked[:count]


def chosen_by_scale_in(node: str, peers: Mapping[str, int | None], excess: int) -> bool:
    """Whether `node` is one of the `excess` workers an ECS scale-in lets go. Every worker decides for itself from
    the same Celery `inspect` answers, so they must rank alike: peers are ordered by node name (reply order differs
    from worker to worker), then `choose_to_go` picks. Exactly `excess` go, idle or not: before, every idle worker
    went at once, so a scale-in of one with three idle workers stopped all three consuming. A worker missing from
    the answers (it did not reply in time) does not go this round."""
    return node in choose_to_go(dict(sorted(peers.items())), excess)


def superseded_may_stop_consuming(primary_running: int, primary_desired: int) -> bool:
    """A superseded worker stops consuming once the new deployment runs every task it wants (ECS starts new
    workers first, maximumPercent 200): the queue is never left without consumers, and no task starts on old
    code after the new workers are up. A new deployment that never gets there leaves the old workers serving."""
    return primary_running >= primary_desired
