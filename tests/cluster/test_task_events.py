"""Flower's task events: every Airflow role's Celery config asks for them, with settings Celery knows."""

from __future__ import annotations

import json

import pytest

from airflow_celery.cluster.env import EXTRA_CELERY_CONFIG_VAR, TASK_EVENTS_CONFIG, ClusterSettings, role_environment
from airflow_celery.cluster.roles import FLOWER, SCHEDULER, WORKER


def test_the_settings_are_celerys_own():
    """celery/app/defaults.py declares both (namespaces `worker` and `task`); an unknown key would be ignored."""
    from celery.app.defaults import NAMESPACES, flatten

    known = {key for key, _ in flatten(NAMESPACES)}
    assert set(json.loads(TASK_EVENTS_CONFIG)) <= known


@pytest.mark.parametrize("role", [WORKER, SCHEDULER, FLOWER])
def test_workers_the_scheduler_and_flower_get_them(role):
    settings = ClusterSettings(execution_api_url="http://api:8080/execution/")
    assert role_environment(role.name, settings).plain[EXTRA_CELERY_CONFIG_VAR] == TASK_EVENTS_CONFIG


@pytest.mark.airflow
def test_airflows_celery_config_carries_them(monkeypatch):
    """The celery provider merges `[celery] extra_celery_config` into DEFAULT_CELERY_CONFIG (default_celery.py)."""
    import importlib

    monkeypatch.setenv(EXTRA_CELERY_CONFIG_VAR, TASK_EVENTS_CONFIG)
    from airflow.providers.celery.executors import default_celery

    try:
        config = importlib.reload(default_celery).DEFAULT_CELERY_CONFIG
        assert config["worker_send_task_events"] is True and config["task_send_sent_event"] is True
    finally:
        monkeypatch.undo()
        importlib.reload(default_celery)  # later tests see the module as the environment makes it
