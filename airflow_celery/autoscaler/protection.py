"""Scale-in protection for Celery workers on ECS: a worker's task is protected while it holds a task.

Airflow imports `CELERY_CONFIG` through `[celery] celery_config_options` (the env contract sets it for workers
only); importing this module connects two Celery signals in the worker's main process:

- `worker_ready` starts a daemon thread, only when `ECS_AGENT_URI` is set (ECS injects it; locally and in
  compose nothing happens);
- `task_received` wakes the thread, so a new task is protected within one round trip to the agent.

The thread looks at Celery's own bookkeeping (celery/worker/state.py: `active_requests`, `reserved_requests`,
kept in the main process) and PUTs `$ECS_AGENT_URI/task-protection/v1/state`: protected for `EXPIRES_MINUTES`
while busy (renewed at half that), unprotected once idle. The agent calls ecs:UpdateTaskProtection with the task
role's credentials (amazon-ecs-agent, ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go), and
answers an ECS failure with HTTP 200 and a "failure" body (TaskProtectionResponse in .../v1/types/types.go has
"protection", "failure" and "error"): the status and the body are both checked. Errors are logged, never raised:
protection must never fail a task.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable

log = logging.getLogger("airflow_celery.protection")

AGENT_URI_VAR = "ECS_AGENT_URI"
PROTECTION_PATH = "/task-protection/v1/state"
EXPIRES_MINUTES = 60
"""How long one PUT protects (1-2880). Renewed every half of it while busy, so a worker that dies protected
blocks scale-in for at most this long."""
POLL_SECONDS = 5.0
HTTP_TIMEOUT = 5.0


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


class Protector:
    """Keeps the ECS task's protection in step with whether this worker holds a task."""

    def __init__(
        self,
        busy: Callable[[], bool],
        put: Callable[[bool], bool],
        clock: Callable[[], float] = time.monotonic,
        renew_after: float = EXPIRES_MINUTES * 60 / 2,
    ):
        self.busy, self.put, self.clock, self.renew_after = busy, put, clock, renew_after
        self.protected = False
        self.since: float | None = None
        self.wake = threading.Event()

    def step(self) -> None:
        """Protect when busy (and renew), unprotect when idle; a failed PUT is tried again next step."""
        busy = self.busy()
        now = self.clock()
        stale = self.since is None or now - self.since >= self.renew_after
        if busy and (not self.protected or stale):
            if self.put(True):
                self.protected, self.since = True, now
        elif not busy and self.protected and self.put(False):
            self.protected, self.since = False, None

    def run_forever(self, poll: float = POLL_SECONDS) -> None:
        while True:
            self.wake.wait(poll)
            self.wake.clear()
            try:
                self.step()
            except Exception:
                log.exception("task scale-in protection step failed")


def celery_busy() -> bool:
    """Tasks received or running in this worker (celery.worker.state, main process)."""
    from celery.worker import state

    return bool(state.active_requests) or bool(state.reserved_requests)


_protector: Protector | None = None


def start(agent_uri: str | None = None) -> Protector | None:
    """Start the protection thread when running on ECS; a no-op without ECS_AGENT_URI."""
    global _protector
    agent_uri = agent_uri if agent_uri is not None else os.environ.get(AGENT_URI_VAR)
    if not agent_uri or _protector is not None:
        return _protector
    _protector = Protector(celery_busy, lambda protected: put_protection(agent_uri, protected))
    threading.Thread(target=_protector.run_forever, name="ecs-task-protection", daemon=True).start()
    log.info("task scale-in protection on: this worker's ECS task is protected while it holds a task")
    return _protector


def _on_worker_ready(**_: object) -> None:
    start()


def _on_task_received(**_: object) -> None:
    if _protector is not None:
        _protector.wake.set()


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
