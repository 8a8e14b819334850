"""The queue policy: a task on a queue no worker consumes fails its DAG's import, instead of waiting in `queued`.

A Celery task sent to a queue nobody consumes sits in Redis until `[scheduler] task_queued_timeout`, is re-sent,
and is failed at last, with nothing in its log. Airflow applies cluster policies where DAGs are parsed
(airflow/dag_processing/dagbag.py, `_process_dag` calls `settings.task_policy(task)` for every task); an
`AirflowClusterPolicyViolation` there becomes the file's import error, shown in the UI and by `dags
list-import-errors`, naming the task, its queue and the queues there are.

Airflow finds `task_policy` in the module `airflow_local_settings` (settings.py, `import_local_settings`), which it
looks for on sys.path, `{AIRFLOW_HOME}/config` included (`prepare_syspath_for_config_and_plugins`): the image copies
LOCAL_SETTINGS there (image/airflow_local_settings.py), local mode writes it into its AIRFLOW_HOME.

The queues: WORKER_QUEUES_VAR where the cluster has extra queues (the dag-processor's env, cluster/env.py), else
the one queue every worker consumes, `[operators] default_queue`. Standard library only at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from airflow_celery.cluster.env import DEFAULT_QUEUE_VAR
from airflow_celery.cluster.queues import DEFAULT_QUEUE, WORKER_QUEUES_VAR

LOCAL_SETTINGS = '''"""Cluster policies of airflow-celery (airflow_celery/cluster/queue_policy.py, and
airflow_celery/cluster/failure_notifications.py); Airflow imports this module from {AIRFLOW_HOME}/config."""

from airflow_celery.cluster.failure_notifications import dag_policy
from airflow_celery.cluster.queue_policy import task_policy

__all__ = ["dag_policy", "task_policy"]
'''
"""The whole of `airflow_local_settings.py`, in the image and in local mode's AIRFLOW_HOME/config."""


def served_queues(env: Mapping[str, str]) -> tuple[str, ...]:
    """The queues some worker of this cluster consumes."""
    listed = env.get(WORKER_QUEUES_VAR, "")
    if listed:
        return tuple(name for name in listed.split(",") if name)
    return (env.get(DEFAULT_QUEUE_VAR) or DEFAULT_QUEUE,)


def unserved_queue_message(dag_id: str, task_id: str, queue: str, queues: tuple[str, ...]) -> str:
    return (
        f"task {task_id!r} of DAG {dag_id!r} is on queue {queue!r}, which no worker of this cluster consumes: it "
        f"would wait in 'queued' until it is failed. The queues are: {', '.join(queues)} (workerQueues in the stack "
        "config, --queue locally); change the task's queue= or add the queue"
    )


def task_policy(task) -> None:
    """Refuse a task whose queue no worker consumes (raises AirflowClusterPolicyViolation)."""
    queues = served_queues(os.environ)
    queue = getattr(task, "queue", None) or queues[0]
    if queue in queues:
        return
    from airflow.exceptions import AirflowClusterPolicyViolation

    dag_id = getattr(getattr(task, "dag", None), "dag_id", None) or getattr(task, "dag_id", "?")
    raise AirflowClusterPolicyViolation(unserved_queue_message(dag_id, task.task_id, queue, queues))
