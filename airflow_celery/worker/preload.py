"""Configure SQLAlchemy's mappers in the worker's main process, before Celery forks the pool children.

Airflow imports every one of its models the first time any mapper of the process is configured (a
`before_configured` listener on `Mapper`, once per process: airflow/utils/orm_event_handlers.py,
`import_all_models`). In a pool child the first mapper in use is Celery's database result backend storing the
STARTED state of the child's first task (Airflow's Celery config tracks it), so each child spent 0.3-0.5 s
importing the models between taking its first task and starting it, and kept a copy of its own (measured on the
local cluster, 2026-12-07). Done once here, at `worker_init`, the children are forked with the models imported and
the mappers configured; as Airflow's own preload (celery_executor_utils.on_celery_import_modules) does, the objects
are then frozen out of the garbage collector until the worker is ready, so the children do not copy the pages.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("airflow_celery.preload")


def configure_models(**_: object) -> None:
    from celery.backends.database import models  # noqa: F401 - the result backend's tables, configured here too
    from sqlalchemy.orm import configure_mappers

    started = time.monotonic()
    configure_mappers()
    gc.freeze()
    log.info(
        "preload: models imported and mappers configured in %.2f s, before the pool forks", time.monotonic() - started
    )


def connect() -> None:
    from celery import signals

    signals.worker_init.connect(configure_models, weak=False)
