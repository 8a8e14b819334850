"""ClusterSettings for tests: a cluster of one of each role (limits.Capacity()), with the fields a test sets."""

from airflow_celery.cluster import ClusterSettings
from airflow_celery.cluster.limits import Capacity, capacity_settings


def settings_with(**fields) -> ClusterSettings:
    """ClusterSettings whose computed fields follow Capacity() unless `fields` sets them."""
    return ClusterSettings(**{**capacity_settings(Capacity()), **fields})
