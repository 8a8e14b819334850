"""Which running tasks are lost: no live worker has held them for several rounds, and their heartbeat is stale.

Both conditions, because each alone has false positives:

- Celery alone: a CPU-starved worker may miss a reply, a worker in warm shutdown stops answering, a round may race
  a task's start or end. WATCHDOG_ROUNDS consecutive rounds, each with the broker reached, are required; a round
  that could not reach the broker resets every count (its silence says nothing about the workers), and a round in
  which no worker at all replied is not counted (celery_nodes.NoWorkerReplied).
- the heartbeat alone: during an api-server outage every running task's heartbeat is stale, yet every task is
  alive, and every live worker still answers through Redis.

A lost task is handed to Airflow's own failure path: its last heartbeat is aged past the heartbeat timeout, and the
scheduler's heartbeat check fails it exactly as if the timeout had passed (retried if it has a try left).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from airflow_celery.cluster.reliability import WATCHDOG_MIN_STALE, WATCHDOG_ROUNDS


@dataclass(frozen=True)
class RunningTask:
    """A task instance in state `running`, as the database sees it."""

    ti_id: str
    celery_id: str | None
    """`task_instance.external_executor_id`: the Celery task id, assigned by the scheduler when it queued the task."""
    heartbeat_age: float
    """Seconds since its last heartbeat (or its start), by the database's clock."""
    label: str = ""


@dataclass
class Watch:
    """Counts, per running task, the consecutive rounds in which no live worker held it."""

    rounds: int = WATCHDOG_ROUNDS
    stale_after: float = WATCHDOG_MIN_STALE
    unheld: dict[str, int] = field(default_factory=dict)
    suspects: list[tuple[RunningTask, int]] = field(default_factory=list)
    """The last round's running tasks that no live worker held, not (yet) lost, with their count of rounds."""

    def broker_unreachable(self) -> None:
        """A round that could not ask the workers: nothing is known, and nothing counts any more."""
        self.unheld.clear()

    def observe(self, running: Iterable[RunningTask], held: set[str]) -> list[RunningTask]:
        """One round: `running` from the database, `held` the Celery ids every replying worker holds. Returns the
        tasks found lost in this round (each once: its count restarts, so a task the scheduler has not failed yet
        is handed over again only after another full set of rounds)."""
        lost = []
        seen = set()
        self.suspects = []
        for task in running:
            if task.celery_id is None:  # queued by a scheduler that did not pre-assign ids: not ours to judge
                continue
            seen.add(task.ti_id)
            if task.celery_id in held:
                self.unheld.pop(task.ti_id, None)
                continue
            count = self.unheld.get(task.ti_id, 0) + 1
            if count >= self.rounds and task.heartbeat_age >= self.stale_after:
                lost.append(task)
                count = 0
            else:
                self.suspects.append((task, count))
            self.unheld[task.ti_id] = count
        for ti_id in set(self.unheld) - seen:  # no longer running: forget it
            del self.unheld[ti_id]
        return lost
