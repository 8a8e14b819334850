"""The Celery app of tests/celery_support.py's worker: one sleeping task, and the worker's liveness hook."""

import os
import time

from celery import Celery

from airflow_celery.worker import liveness

app = Celery("airflow-celery-tests", broker=os.environ["TEST_BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True
liveness.connect()


@app.task(name="sleep")
def sleep(seconds: float) -> None:
    time.sleep(seconds)
