"""EnvSettings for tests: a cluster of one of each role (limits.Capacity()), with the fields a test sets."""

from airflow_celery.cluster import EnvSettings
from airflow_celery.cluster.limits import Capacity, capacity_settings


def settings_with(**fields) -> EnvSettings:
    """EnvSettings whose computed fields follow Capacity() unless `fields` sets them."""
    return EnvSettings(**{**capacity_settings(Capacity()), **fields})
