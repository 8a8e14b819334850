"""airflow-celery: Apache Airflow 3 with the CeleryExecutor on AWS ECS Fargate, and the same cluster locally.

`from airflow_celery import AirflowCeleryCluster` gives the Pulumi component. It is imported lazily, so
the image entrypoint and the local runner, which only need `airflow_celery.cluster`, never import Pulumi.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AirflowCeleryCluster", "AirflowCeleryClusterArgs", "ConfigError", "RedisMode", "RoleSizeArgs"]

if TYPE_CHECKING:
    from airflow_celery.aws.args import AirflowCeleryClusterArgs, ConfigError, RedisMode, RoleSizeArgs
    from airflow_celery.aws.component import AirflowCeleryCluster


def __getattr__(name: str) -> Any:
    if name == "AirflowCeleryCluster":
        from airflow_celery.aws.component import AirflowCeleryCluster

        return AirflowCeleryCluster
    if name in ("AirflowCeleryClusterArgs", "ConfigError", "RedisMode", "RoleSizeArgs"):
        from airflow_celery.aws import args

        return getattr(args, name)
    raise AttributeError(f"module 'airflow_celery' has no attribute {name!r}")
