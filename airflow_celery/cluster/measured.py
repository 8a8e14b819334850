"""Figures measured on a real local cluster, which sizes and limits in the description are derived from.

`bench/capacity.py` prints every figure here (2 workers x 16 slots, PythonOperator tasks sleeping 45 s); the README's
Capacity section shows its runs (two on 2026-11-30, one on 2026-12-07). Where they differ, the larger figure is kept,
except where the code changed between them (SLOT_RELEASE_SECONDS: the task exit watch). Measured on 2 cores (x86_64) and
24 GB: a Fargate vCPU may be slower, which is why the limits derived from these keep margins (cluster/limits.py).
"""

from __future__ import annotations

MEASURED_ON = "2026-11-30"
"""Date of the bench/capacity.py run that produced the figures below."""

WORKER_MAIN_MEMORY_MIB = 34
"""The Celery main process of a worker (PSS, MiB)."""

IDLE_SLOT_MEMORY_MIB = 26
"""One idle Celery pool child, forked at start whether or not it ever runs a task (PSS, MiB: an idle 16-slot
worker's 451 MiB minus its main process, over 16)."""

BUSY_SLOT_MEMORY_MIB = 61
"""What a slot adds while it runs a plain PythonOperator: the task supervisor and the task process, and what the
pool child itself grows (PSS, MiB: a worker's PSS with 16 busy slots, 1422-1423 MiB, minus its idle PSS, over 16).
Task code that loads data needs more: that is what the headroom in cluster/limits.py is for."""

JOBS_CHECK_MEMORY_MIB = 151
"""Peak memory of one `airflow jobs check --local` health check (RSS of its process tree, MiB, max of 3 runs).
ECS runs it every 30 s inside the dag-processor's and the triggerer's task, next to the role itself."""

ROLE_IDLE_MEMORY_MIB = {"dag-processor": 216, "triggerer": 312}
"""RSS of the idle dag-processor and triggerer (MiB), parsing or running nothing of the user's."""

HEARTBEAT_CPU_PER_TASK = {1: 0.23 / 32, 5: 0.05 / 32}
"""Share of one core the api-server spends per running task on the Task Execution API, by
`[workers] min_heartbeat_interval`: for 32 running tasks at 1 s 17 % of a core (2026-11-30, both runs) and 23 %
(2026-12-07), at 5 s 3-5 %. The cluster uses 5 s (limits.MIN_HEARTBEAT_INTERVAL_SECONDS)."""

HEARTBEAT_TI_UPDATES_PER_S = {1: 31.5, 5: 6.2}
"""task_instance row updates per second with 32 running tasks, by heartbeat interval (database commits: 94-97/s
at 1 s against 47-50/s at 5 s, the rest being the scheduler's and the other roles' own)."""

SLOT_RELEASE_SECONDS = {1: 0.15, 5: 0.15}
"""Mean delay from a task's end (its end_date) to its Celery task's end (the slot takes the next task), by
heartbeat interval, with the task supervisor woken by its task's exit (worker/task_exit.py): the largest seen 0.25 s
at 1 s and 0.34 s at 5 s (2026-12-07). Before it, the supervisor's wait for the exit made 0.30-0.39 s at 1 s and
1.5-3.5 s at 5 s, the largest seen 1.3 s and 5.4 s (2026-11-30)."""

ROLE_BOOT_SECONDS = 90
"""PROVISIONAL (not measured on Fargate). Seconds from the entrypoint's `exec` to a role's first passing health
check, once its database, broker and schema are ready. The README's benchmark (2026-11-22, 2 vCPU) brings every
role up at once in 30-53 s; a 0.5-vCPU Fargate task importing Airflow alone is slower, hence the margin. The
start-up budget (roles.py) leaves this much of the health-check deadline to the role itself."""
