"""Pruning the metadata database: `airflow db clean` with a retention, the same on ECS and locally.

`airflow db clean` (airflow/utils/db_cleanup.py, `config_list`) covers the tables that grow with every run:
`dag_run`, `task_instance`, `xcom`, `log`, `job`, `callback`, ... and Celery's result tables `celery_taskmeta`
and `celery_tasksetmeta` (by `date_done`). It keeps each DAG's latest scheduled run. Both result tables belong to
the metadata database's own user (migrate creates them; the result backend's role only reads and writes rows), so
the command runs with the metadata database URL.

Run as `python -m airflow_celery.cluster.housekeeping [--retention-days N]` (the ECS task's command, in the
image like the rest of cluster/), or `airflow-celery local clean` locally.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from airflow_celery.cluster.env import DATABASE_URL_VAR
from airflow_celery.cluster.secrets import SecretName

DEFAULT_RETENTION_DAYS = 30
RETENTION_RANGE = (1, 3650)
RETENTION_VAR = "AIRFLOW_CELERY_RETENTION_DAYS"
"""Days of history `db clean` keeps; the ECS task gets it in its environment."""
BATCH_SIZE = 10_000
"""Rows deleted per transaction: short locks next to a running scheduler (`--batch-size`)."""
SECRETS = {
    DATABASE_URL_VAR: SecretName.DATABASE_URL,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": SecretName.DATABASE_ASYNC_URL,
}
"""The only secrets the command gets: the metadata database's URLs (Airflow builds both engines at start-up).
No Fernet key (nothing is decrypted), no broker, no result backend, no admin password."""
CLEAN_HOUR_UTC = 3
"""When the ECS schedule runs without hibernation: a quiet hour for most."""


def clean_argv(retention_days: int, now: datetime) -> list[str]:
    """`airflow db clean` for rows older than `retention_days` before `now`.

    --skip-archive: the purged rows are dropped, not copied into `_airflow_deleted__*` tables (which would keep the
    database as large as before); --yes: no prompt; --error-on-cleanup-failure: a table that fails makes the run
    fail (by default the command exits 0 and only logs it), so ECS and the CLI report it.
    """
    low, high = RETENTION_RANGE
    if not low <= retention_days <= high:
        raise ValueError(f"retention_days={retention_days!r}: days of history to keep, {low}-{high}")
    before = (now - timedelta(days=retention_days)).astimezone(UTC).isoformat(timespec="seconds")
    return [
        "airflow", "db", "clean", "--clean-before-timestamp", before, "--skip-archive", "--yes",
        "--error-on-cleanup-failure", "--batch-size", str(BATCH_SIZE),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_celery.cluster.housekeeping")
    parser.add_argument(
        "--retention-days", type=int, default=int(os.environ.get(RETENTION_VAR, DEFAULT_RETENTION_DAYS))
    )
    args = parser.parse_args(argv)
    command = clean_argv(args.retention_days, datetime.now(UTC))
    print(f"airflow-celery housekeeping: {' '.join(command)}", flush=True)
    os.execvp(command[0], command)
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
