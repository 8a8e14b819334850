"""The drain protocol (cluster/drain.py) inside a Celery worker: consume or not, protected or not, may go or not.

Airflow imports `CELERY_CONFIG` through `[celery] celery_config_options` (the env contract sets it for workers
only); importing this module connects two Celery signals in the worker's main process:

- `worker_ready` (sender: the worker's Consumer) starts a daemon thread, on ECS (`ECS_AGENT_URI` is set) or in
  local mode (`AIRFLOW_CELERY_DRAIN_PATH` is set); elsewhere (compose) nothing happens;
- `task_received` marks the worker as holding a task and wakes the thread. The signal fires before Celery
  counts the request as reserved (celery/worker/strategy.py, `task_message_handler` sends it, then calls
  `task_reserved(req)`), so the thread does not wait for the state: the mark itself counts as one task.

Every step the thread learns whether the worker must go, then follows `drain.decide`:

- serving: protected (renewed), consuming its queues;
- going: stops consuming first (`cancel_consumer` addressed to its own node, so `app.amqp.queues` is deselected
  and a consumer restart does not resubscribe), and only once the consumer no longer holds the queue does it
  count its tasks and drop its protection when it holds none (or the drain cap is reached);
- wanted again: protected first, then `add_consumer`.

On ECS, protection is `PUT $ECS_AGENT_URI/task-protection/v1/state` with a short expiry (`EXPIRES_MINUTES`),
renewed every `RENEW_SECONDS`: the agent calls ecs:UpdateTaskProtection with the task role's credentials
(amazon-ecs-agent, ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go) and answers an ECS failure
with HTTP 200 and a "failure" body (TaskProtectionResponse in .../v1/types/types.go has "protection", "failure"
and "error"): the status and the body are both checked. A PUT that failed or timed out may still have been
applied, so the state becomes unknown and the next step sends what is wanted again (an idle worker whose
protect timed out is unprotected on the next step, not an hour later).

Locally, the local autoscaler or a rollout asks a worker to go by creating `<drain path>.go`; the worker writes
its state to `<drain path>.json`, and the autoscaler stops the program once it says `release`.

Errors are logged, never raised: the protocol must never fail a task.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from airflow_celery.autoscaler import ecs_service
from airflow_celery.cluster.drain import (
    DRAIN_PATH_VAR,
    DRAIN_PROTECTION_CAP,
    DrainClock,
    Step,
    chosen_by_scale_in,
    decide,
)

log = logging.getLogger("airflow_celery.protection")

AGENT_URI_VAR = "ECS_AGENT_URI"
PROTECTION_PATH = "/task-protection/v1/state"
EXPIRES_MINUTES = 10
"""How long one PUT protects (the API allows 1-2880). Short, so that a worker that dies protected, or a PUT that
was applied after it timed out, blocks a scale-in or a deploy for minutes, not hours."""
RENEW_SECONDS = 120.0
"""A protected worker renews this often: four tries before a protection lapses."""
POLL_SECONDS = 5.0
"""Seconds between two steps on ECS (a received task wakes the thread at once)."""
LOCAL_POLL_SECONDS = 1.0
"""Locally a step reads two small files: a drain request is seen within a second."""
HTTP_TIMEOUT = 5.0
CONTROL_TIMEOUT = 2.0


# --- ECS task scale-in protection ------------------------------------------------------------------------------


def protection_body(protected: bool, minutes: int = EXPIRES_MINUTES) -> dict:
    if protected:
        return {"ProtectionEnabled": True, "ExpiresInMinutes": minutes}
    return {"ProtectionEnabled": False}


def put_protection(agent_uri: str, protected: bool, timeout: float = HTTP_TIMEOUT) -> bool:
    """One PUT to the agent; True when ECS accepted it. Every failure is logged and returns False."""
    request = urllib.request.Request(
        agent_uri.rstrip("/") + PROTECTION_PATH,
        data=json.dumps(protection_body(protected)).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except Exception as error:
        log.warning("task scale-in protection %s failed: %s", "on" if protected else "off", error)
        return False
    if "failure" in answer or "error" in answer:
        log.warning("task scale-in protection %s refused: %s", "on" if protected else "off", answer)
        return False
    return True


class Protection:
    """The task's protection as last confirmed: True, False or None (unknown: a PUT failed, maybe applied)."""

    def __init__(self, put: Callable[[bool], bool], clock: Callable[[], float], renew_after: float = RENEW_SECONDS):
        self.put, self.clock, self.renew_after = put, clock, renew_after
        self.state: bool | None = None  # a restarted container does not know what the last one left
        self.since: float | None = None

    def want(self, protect: bool) -> None:
        now = self.clock()
        if protect:
            if self.state is True and self.since is not None and now - self.since < self.renew_after:
                return
        elif self.state is False:
            return
        applied = self.put(protect)
        self.state = protect if applied else None
        self.since = now if applied and protect else None


# --- the worker's own Celery consumer --------------------------------------------------------------------------


class QueueSwitch:
    """Consume the worker's queues or not, through Celery's remote control addressed to this node only (the
    command runs in the consumer's event loop, the one thread that may touch it)."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.node = consumer.hostname
        self.queues = sorted(q.name for q in consumer.task_consumer.queues)

    def consuming(self) -> bool | None:
        """Whether the consumer holds any of the queues now; None while it restarts (no task consumer)."""
        task_consumer = self.consumer.task_consumer
        if task_consumer is None:
            return None
        current = {q.name for q in task_consumer.queues}
        return any(name in current for name in self.queues)

    def switch(self, consume: bool) -> None:
        control = self.consumer.app.control
        command = control.add_consumer if consume else control.cancel_consumer
        for queue in self.queues:
            replies = command(queue, destination=[self.node], reply=True, timeout=CONTROL_TIMEOUT)
            log.info("%s %s: %s", "add_consumer" if consume else "cancel_consumer", queue, replies)
        if consume:
            self._select_again()

    def _select_again(self) -> None:
        """`cancel_consumer` deselects the queue from `app.amqp.queues`, but `add_consumer` selects only a queue
        it does not know (celery/worker/consumer/consumer.py `add_task_queue`): without this, the next consumer
        restart (a broker reconnect) would consume nothing. A plain dict update (celery/app/amqp.py
        `Queues.select_add`); the drain step would otherwise add the queue again a step later."""
        known = self.consumer.app.amqp.queues
        for name in self.queues:
            if name in known:
                known.select_add(known[name])


def held_tasks() -> int:
    """Tasks received or running in this worker (celery.worker.state, kept in the main process)."""
    from celery.worker import state

    return len(state.active_requests) + len(state.reserved_requests)


# --- the protocol, one step at a time --------------------------------------------------------------------------


class DrainingWorker:
    """Runs `drain.decide` in the worker. `must_go(holds)` answers True/False, or None when it cannot tell now
    (then the last answer stands); `protection` is None where nothing protects (locally); `report` gets the
    state after every step (locally, the status file the autoscaler reads)."""

    def __init__(
        self,
        holds: Callable[[], int],
        must_go: Callable[[int], bool | None],
        queues: QueueSwitch,
        protection: Protection | None = None,
        report: Callable[[dict], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cap: float = DRAIN_PROTECTION_CAP,
        poll: float = POLL_SECONDS,
    ):
        self.holds, self.must_go, self.queues, self.poll = holds, must_go, queues, poll
        self.protection, self.report, self.clock, self.cap = protection, report, clock, cap
        self.going = False
        self.drain_clock = DrainClock()
        self.received = threading.Event()
        self.wake = threading.Event()
        self.last: Step | None = None

    def task_received(self) -> None:
        self.received.set()
        self.wake.set()

    def _protect(self, protect: bool) -> None:
        if self.protection is not None:
            self.protection.want(protect)

    def step(self) -> Step:
        answer = self.must_go(self.holds())
        if answer is not None and answer != self.going:
            log.info("this worker %s", "must go: draining" if answer else "is wanted again: consuming")
            self.going = answer
        consuming = self.queues.consuming()
        # Counted after the consumer was seen without its queues: nothing can arrive after this count.
        holds = self.holds()
        if self.received.is_set():
            self.received.clear()
            holds = max(holds, 1)
        step = decide(holds, self.going, self.drain_clock.tick(self.going, self.clock()), self.cap)
        if step.consume:
            self._protect(True)  # protected before it takes anything
            if consuming is False:
                self.queues.switch(True)
        elif consuming:
            self.queues.switch(False)  # protection unchanged until the consumer is seen without its queues
        elif consuming is False:
            self._protect(step.protect)
        if step != self.last:
            log.info("drain: %s", step.reason)
        self.last = step
        if self.report is not None:
            # Released only once the consumer is seen without its queues, as protection is dropped only then.
            released = step.release and consuming is False
            self.report({"holds": holds, "going": self.going, "consuming": consuming, "release": released,
                         "reason": step.reason, "node": self.queues.node})  # fmt: skip
        return step

    def run_forever(self) -> None:
        while True:
            try:
                self.step()
            except Exception:
                log.exception("drain step failed")
            self.wake.wait(self.poll)
            self.wake.clear()


# --- where "must go" comes from --------------------------------------------------------------------------------


class EcsMustGo:
    """Superseded (once the new deployment runs), or chosen by a pending scale-in: among the least busy of the
    workers that answer Celery's `inspect`, exactly as many as the scale-in removes (drain.chosen_by_scale_in)."""

    def __init__(self, client, task, peers: Callable[[], dict[str, int | None]], node: str, clock=time.monotonic):
        self.client, self.task, self.peers, self.node, self.clock = client, task, peers, node, clock
        self.member = None
        self.member_known = False
        self.view = None
        self.viewed_at: float | None = None

    def __call__(self, holds: int) -> bool | None:
        try:
            if not self.member_known:
                self.member, self.member_known = ecs_service.membership(self.client, self.task), True
            if self.member is None:
                return False
            now = self.clock()
            if self.viewed_at is None or now - self.viewed_at >= ecs_service.VIEW_SECONDS:
                self.view, self.viewed_at = ecs_service.describe_service(self.client, self.task, self.member), now
        except Exception as error:
            log.warning("cannot tell whether this worker must go: %s", error)
            return None
        view = self.view
        if view.superseded:
            return view.replacements_running
        if view.scale_in_excess <= 0:
            return False
        return chosen_by_scale_in(self.node, self.peers(), view.scale_in_excess)


def celery_peer_holds(app) -> dict[str, int | None]:
    """Active + reserved tasks of every worker that answers within a second, by node name."""
    inspect = app.control.inspect(timeout=1.0)
    active, reserved = inspect.active() or {}, inspect.reserved() or {}
    return {node: len(active.get(node) or []) + len(reserved.get(node) or []) for node in {*active, *reserved}}


class LocalMustGo:
    """Locally a worker must go while `<drain path>.go` exists (the local autoscaler or a rollout creates it)."""

    def __init__(self, path: str | Path):
        self.go_file = Path(f"{path}.go")

    def __call__(self, holds: int) -> bool:
        return self.go_file.exists()


def status_writer(path: str | Path) -> Callable[[dict], None]:
    target = Path(f"{path}.json")

    def write(status: dict) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps({**status, "pid": os.getpid(), "at": time.time()}))
        temporary.replace(target)

    return write


# --- start-up from the Celery signals --------------------------------------------------------------------------

_worker: DrainingWorker | None = None


def build(consumer, env: dict[str, str] | None = None) -> DrainingWorker | None:
    """The drain protocol for this place: ECS, local mode, or None (compose: nothing to drain for)."""
    env = dict(os.environ if env is None else env)
    queues = QueueSwitch(consumer)
    if env.get(AGENT_URI_VAR):
        import boto3

        agent_uri = env[AGENT_URI_VAR]
        task = ecs_service.own_task(env[ecs_service.METADATA_VAR])
        client = boto3.client("ecs", region_name=task.region)
        must_go = EcsMustGo(client, task, lambda: celery_peer_holds(consumer.app), queues.node)
        protection = Protection(lambda protected: put_protection(agent_uri, protected), time.monotonic)
        return DrainingWorker(held_tasks, must_go, queues, protection=protection)
    if env.get(DRAIN_PATH_VAR):
        path = env[DRAIN_PATH_VAR]
        return DrainingWorker(
            held_tasks, LocalMustGo(path), queues, report=status_writer(path), poll=LOCAL_POLL_SECONDS
        )
    return None


def start(consumer) -> DrainingWorker | None:
    global _worker
    if _worker is not None:
        return _worker
    try:
        _worker = build(consumer)
    except Exception:
        log.exception("drain protocol not started")
        return None
    if _worker is not None:
        threading.Thread(target=_worker.run_forever, name="drain-protocol", daemon=True).start()
        log.info("drain protocol on: consuming %s as %s", _worker.queues.queues, _worker.queues.node)
    return _worker


def _on_worker_ready(sender=None, **_: object) -> None:
    if sender is not None:
        start(sender)


def _on_task_received(**_: object) -> None:
    if _worker is not None:
        _worker.task_received()


def _connect() -> None:
    from celery import signals

    signals.worker_ready.connect(_on_worker_ready, weak=False)
    signals.task_received.connect(_on_task_received, weak=False)


def _celery_config() -> dict:
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    return DEFAULT_CELERY_CONFIG


def __getattr__(name: str) -> object:
    """`CELERY_CONFIG` is Airflow's own default dict, the very object (imported on first use, not before)."""
    if name == "CELERY_CONFIG":
        return _celery_config()
    raise AttributeError(name)


_connect()
