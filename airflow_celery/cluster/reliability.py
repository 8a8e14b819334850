"""What the cluster does when a process dies: task retries and the timeouts that lead to them.

Plain Python, read by the env contract (env.py), the AWS arguments (defaults and ranges) and the docs, so that
local mode, docker-compose and ECS all retry the same way.

A worker lost (Spot reclaim, scale-in, OOM, SIGKILL) takes its running tasks with it. Their heartbeats stop; the
watchdog (airflow_celery/watchdog/) sees that no live Celery worker holds them and ages their last heartbeat, and
the scheduler's heartbeat check fails them (airflow/jobs/scheduler_job_runner.py,
`_find_and_purge_task_instances_without_heartbeats` -> `TaskInstance.handle_failure`): a task with a try left goes
to up_for_retry, one without fails its run. Airflow's `[core] default_task_retries` is 0, so a task whose author
set no retries failed its whole run when a worker was lost (bench/faults.py, case 1).
"""

from __future__ import annotations

import math

DEFAULT_TASK_RETRIES = 2
"""`[core] default_task_retries` for tasks that set no `retries` of their own. 2 survives one lost worker and one
more transient failure; Airflow's own default (0) fails a run on the first lost worker."""
TASK_RETRIES_RANGE = (0, 10)
DEFAULT_TASK_RETRY_DELAY_SECONDS = 15
"""`[core] default_task_retry_delay`. Airflow's default is 300 s. A task of a lost worker is failed
`lost_task_retry_within()` (55 s) after the loss; 15 s more puts its retry within 90 s of it."""
TASK_RETRY_DELAY_RANGE = (0, 86400)
"""86400 s is Airflow's `[core] max_task_retry_delay`: a longer delay is cut to it anyway."""

API_OUTAGE_TOLERATED = 180
"""Seconds the execution API (every api-server) may be gone without failing a running task: one api-server replaced
after a crash on ECS (a new task placed, its image pulled, Airflow booted: ROLE_BOOT_SECONDS = 90 of it), with
margin. Measured here: the only api-server stopped 90 s fails no task (README, Reliability)."""

TASK_HEARTBEAT_TIMEOUT = 300
"""`[scheduler] task_instance_heartbeat_timeout`, Airflow's default: seconds without a heartbeat before the
scheduler fails a running task (and retries it if it has a try left). It must outlast API_OUTAGE_TOLERATED, since
during an api-server outage no heartbeat arrives; a lost worker is found much sooner by the watchdog (below),
so this is only the fallback when the watchdog itself is down."""

EXECUTION_API_RETRIES = 5
EXECUTION_API_RETRY_WAIT_MIN = 1.0
"""Airflow's `[workers] execution_api_retries` and `execution_api_retry_wait_min` (config.yml), left as they are:
each execution API call is tried 5 times, waiting `random.uniform(wait_min, 2**n)` between tries
(airflow/sdk/api/client.py, `Client.request`; tenacity's `wait_random_exponential`), so one failed call takes at
least (retries - 1) x wait_min = 4 s."""


def seconds_per_failed_heartbeat(min_heartbeat_interval: int) -> float:
    """The least time one failed heartbeat can take: the supervisor starts a heartbeat no sooner than
    `min_heartbeat_interval` after the previous one started, and a failing one waits out its retries."""
    return max(float(min_heartbeat_interval), (EXECUTION_API_RETRIES - 1) * EXECUTION_API_RETRY_WAIT_MIN)


def max_failed_heartbeats(min_heartbeat_interval: int, outage: int = API_OUTAGE_TOLERATED) -> int:
    """`[workers] max_failed_heartbeats`: consecutive failed heartbeats after which the task supervisor kills its
    own task (airflow/sdk/execution_time/supervisor.py, `_handle_heartbeat_failures`). Airflow's 3 kills every
    running task 12-90 s into an api-server outage; this many outlast `outage` even at the fastest failure rate."""
    return math.ceil(outage / seconds_per_failed_heartbeat(min_heartbeat_interval)) + 1


# --- the watchdog: a lost worker's tasks are retried within a minute and a half (airflow_celery/watchdog/) -------

WATCHDOG_INTERVAL = 10
"""Seconds between two rounds of the watchdog: one `inspect active` through the broker, one query. A test
cluster may set fewer (`local up --watchdog-interval`): the stale age below scales with it."""
WATCHDOG_INTERVAL_RANGE = (2, 60)
WATCHDOG_INSPECT_TIMEOUT = 5.0
"""Seconds the watchdog waits for the workers' replies: a busy 1-vCPU worker answers within a second."""
WATCHDOG_ROUNDS = 3
"""Consecutive rounds, each with the broker reachable, in which no worker replied holding a running task before
the task counts as lost: a CPU-starved worker missing one or two replies is not lost."""
WATCHDOG_MIN_STALE = 30
"""Seconds a running task's last heartbeat must be old, at least, before the watchdog hands it to the scheduler
(at the default interval: WATCHDOG_ROUNDS intervals): a task whose supervisor still heartbeats is alive,
whatever Celery says."""


def watchdog_stale_after(min_heartbeat_interval: int, interval: int = WATCHDOG_INTERVAL) -> int:
    """Heartbeat age that counts as stale: WATCHDOG_ROUNDS watchdog intervals (WATCHDOG_MIN_STALE at the default),
    or 6 missed heartbeats if they are slower."""
    return max(WATCHDOG_ROUNDS * interval, 6 * min_heartbeat_interval)


def lost_task_retry_within(
    min_heartbeat_interval: int, detection_interval: int = 10, interval: int = WATCHDOG_INTERVAL
) -> int:
    """Worst-case seconds from a worker's death to its task going up_for_retry: the watchdog's round that first
    reads a stale heartbeat (up to a round after it went stale) and WATCHDOG_ROUNDS rounds without a worker holding
    the task (plus one in flight), whichever comes later, its inspect's timeout, then the scheduler's heartbeat
    check (`[scheduler] task_instance_heartbeat_timeout_detection_interval`, 10 s)."""
    stale = watchdog_stale_after(min_heartbeat_interval, interval)
    detect = max(stale + interval, (WATCHDOG_ROUNDS + 1) * interval)
    return detect + int(WATCHDOG_INSPECT_TIMEOUT) + detection_interval
