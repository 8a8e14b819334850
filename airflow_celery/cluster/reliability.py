"""What the cluster does when a process dies: task retries and the timeouts that lead to them.

Plain Python, read by the env contract (env.py), the AWS arguments (defaults and ranges) and the docs, so that
local mode, docker-compose and ECS all retry the same way.

A worker lost (Spot reclaim, scale-in, OOM, SIGKILL) takes its running tasks with it. Their heartbeats stop, and
`task_heartbeat_timeout` seconds later the scheduler fails them (airflow/jobs/scheduler_job_runner.py,
`_find_and_purge_task_instances_without_heartbeats` -> `TaskInstance.handle_failure`): a task with a try left goes
to up_for_retry, one without fails its run. Airflow's `[core] default_task_retries` is 0, so a task whose author
set no retries failed its whole run when a worker was lost (issue 8, case 1).
"""

from __future__ import annotations

DEFAULT_TASK_RETRIES = 2
"""`[core] default_task_retries` for tasks that set no `retries` of their own. 2 survives one lost worker and one
more transient failure; Airflow's own default (0) fails a run on the first lost worker."""
TASK_RETRIES_RANGE = (0, 10)
DEFAULT_TASK_RETRY_DELAY_SECONDS = 15
"""`[core] default_task_retry_delay`. Airflow's default is 300 s. A task of a lost worker is already
`task_heartbeat_timeout` (60 s) late when it is failed; 15 s more puts its retry within 90 s of the loss."""
TASK_RETRY_DELAY_RANGE = (0, 86400)
"""86400 s is Airflow's `[core] max_task_retry_delay`: a longer delay is cut to it anyway."""

TASK_HEARTBEAT_TIMEOUT = 60
"""`[scheduler] task_instance_heartbeat_timeout`: seconds without a heartbeat before a running task is failed
(and retried if it has a try left). Airflow's default is 300."""
