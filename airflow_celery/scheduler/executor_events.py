"""The scheduler's loop counts the executor events it processed as work, so it does not sleep before queuing the
task that a finished one leaves room for.

Airflow 3.3.2's scheduler loop sleeps `[scheduler] scheduler_idle_sleep_time` after a loop that queued no task and
processed no executor event (jobs/scheduler_job_runner.py, `_run_scheduler_loop`: `idle_in_this_run = not
num_queued_tis and not num_finished_events`). But `process_executor_events`, documented to return "Number of events
processed from the executor event buffer", pops each task's event from the buffer as it handles it and returns
`len(event_buffer)`: what is left, 0 once every event was handled. So the loop that reads a task's end counts as
idle and sleeps, and only the loop after the sleep queues the next task for the slot that freed. Measured on a local
cluster (bench/latency.py, 40 x 5 s on 2 workers x 4 slots, 2026-12-07): a freed parallelism slot waited 0.30 s
for its next task, median and p90 alike, the 0.25 s idle sleep plus a loop; at the test clusters' 1 s idle sleep it
is up to 1 s (the loop sleeps the shorter of the idle sleep and the time to its next timed job).

`install()` wraps `SchedulerJobRunner._process_executor_events` to return the number of events the executor's
buffer held when it was called (the method takes them all: `get_event_buffer()` without dag ids), or Airflow's own
count if that is larger. An event is a task's state change (queued, or its end), so a loop with none still sleeps:
the idle scheduler costs what it did. It belongs upstream; tests/scheduler/test_executor_events_airflow.py fails
when Airflow changes either half of the behaviour.
"""

from __future__ import annotations

import functools
import logging

log = logging.getLogger("airflow_celery.scheduler")

WRAPPED = "_airflow_celery_counts_processed_events"
"""Set on the wrapper, so that a second install (the config module imported again) wraps nothing twice."""


def install() -> bool:
    """Make the scheduler's loop see processed executor events as work; False when already installed, or when this
    Airflow has no such method (the scheduler then runs as Airflow ships it, with a warning in its log)."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    original = getattr(SchedulerJobRunner, "_process_executor_events", None)
    if original is None:
        log.warning("scheduler loop: SchedulerJobRunner._process_executor_events is gone; its event count is Airflow's")
        return False
    if getattr(original, WRAPPED, False):
        return False

    @functools.wraps(original)
    def counting_processed_events(self, executor, *args, **kwargs) -> int:
        pending = len(executor.event_buffer)
        return max(pending, original(self, executor, *args, **kwargs))

    setattr(counting_processed_events, WRAPPED, True)
    SchedulerJobRunner._process_executor_events = counting_processed_events
    log.info("scheduler loop: executor events processed count as work, no idle sleep before the next task is queued")
    return True


def uninstall() -> None:
    """Tests: Airflow's own method back."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    current = SchedulerJobRunner._process_executor_events
    if getattr(current, WRAPPED, False):
        SchedulerJobRunner._process_executor_events = current.__wrapped__
