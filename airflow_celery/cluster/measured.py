"""Figures measured on a real local cluster, which sizes and limits in the description are derived from.

Each figure names the script that prints it. `bench/capacity.py` replaces the PROVISIONAL values below with
measured ones (and their date); until then they are estimates, not measurements, and say so.
"""

from __future__ import annotations

MEASURED_ON: str | None = None
"""Date of the run that produced the figures below; None while they are provisional estimates."""

SLOT_MEMORY_MIB = 256
"""PROVISIONAL. Memory of one busy Celery slot running a plain PythonOperator: the pool child, the task
supervisor and the task process (PSS, MiB). bench/capacity.py measures it."""

WORKER_BASE_MEMORY_MIB = 512
"""PROVISIONAL. Memory of an idle worker: the Celery main process and its log server (PSS, MiB)."""

JOBS_CHECK_MEMORY_MIB = 320
"""PROVISIONAL. Peak memory of one `airflow jobs check --local` health check, which ECS runs every 30 s
inside the dag-processor's and the triggerer's task (RSS, MiB)."""

ROLE_BOOT_SECONDS = 90
"""PROVISIONAL. Seconds from the entrypoint's `exec` to a role's first passing health check, once its database,
broker and schema are ready. The README's benchmark (2026-11-22, 2 vCPU) brings every role up at once in 30-53 s;
a 0.5-vCPU Fargate task importing Airflow alone is slower, hence the margin. The start-up budget
(roles.py) leaves this much of the health-check deadline to the role itself."""
