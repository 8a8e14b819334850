"""Task logs that survive their worker: CloudWatch Logs, sent every few seconds instead of every minute.

Airflow's `cloudwatch://` remote logging (amazon provider, log/cloudwatch_task_handler.py) streams each record
through a watchtower `CloudWatchLogHandler` built in `CloudWatchRemoteLogIO._build_handler`, with watchtower's
default `send_interval` of 60 s (watchtower/__init__.py): a batch waits up to a minute in the task supervisor's
memory, so a worker SIGKILLed at its stop timeout or by a Spot reclaim loses up to its last minute of lines, and
the UI shows a running task's lines a minute late. No Airflow option sets the interval (`remote_task_handler_kwargs`
only reaches the IO's own fields), so this module subclasses the IO and is the `[logging] logging_config_class`:
Airflow takes `REMOTE_TASK_LOG` from a user-defined logging config module before its own choice
(airflow/_shared/logging/factory.py, `resolve_remote_task_log`).

Airflow is imported only when the logging config is read (module `__getattr__`), so cluster/ stays importable
without it. Set, with remote logging on:
`AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS=airflow_celery.cluster.task_logs.LOGGING_CONFIG` and
`AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER=cloudwatch://<log group ARN>`.
"""

from __future__ import annotations

import functools
from typing import Any

SEND_INTERVAL_SECONDS = 2
"""Longest a task's log line waits before it is sent: what a SIGKILL can lose, and the UI's delay. One
PutLogEvents call per running task and interval: at 2 s, 0.5 calls/s per task against the API's 5000/s per
account and region quota (shared with the awslogs driver of every container)."""
LOGGING_CONFIG_PATH = "airflow_celery.cluster.task_logs.LOGGING_CONFIG"


@functools.cache
def streaming_io_class() -> type:
    """CloudWatchRemoteLogIO whose watchtower handler sends every SEND_INTERVAL_SECONDS."""
    from airflow.providers.amazon.aws.log.cloudwatch_task_handler import CloudWatchRemoteLogIO

    class StreamingCloudWatchRemoteLogIO(CloudWatchRemoteLogIO):
        def _build_handler(self) -> Any:
            handler = super()._build_handler()
            # Read when the handler starts a stream's sender thread, on its first record (watchtower emit()).
            handler.send_interval = SEND_INTERVAL_SECONDS
            return handler

    return StreamingCloudWatchRemoteLogIO


@functools.cache
def remote_task_log() -> Any:
    """Airflow's own choice, replaced by the streaming IO when the remote folder is a CloudWatch log group."""
    from airflow.config_templates import airflow_local_settings

    chosen = airflow_local_settings.REMOTE_TASK_LOG
    base = getattr(chosen, "remote_base", "") or ""
    if not base.startswith("cloudwatch://"):
        return chosen
    return streaming_io_class()(
        base_log_folder=chosen.base_log_folder,
        remote_base=base,
        delete_local_copy=chosen.delete_local_copy,
        log_group_arn=chosen.log_group_arn,
    )


def __getattr__(name: str) -> Any:
    if name == "LOGGING_CONFIG":
        from airflow.config_templates.airflow_local_settings import DEFAULT_LOGGING_CONFIG

        return DEFAULT_LOGGING_CONFIG
    if name == "REMOTE_TASK_LOG":
        return remote_task_log()
    raise AttributeError(name)
