"""The autoscaler's tests write its health file where each test says, never to the sidecar's default
(/tmp/autoscaler.alive, loop.DEFAULT_HEARTBEAT), which tests that run a round without naming one touched."""

from __future__ import annotations

import pytest

from airflow_celery.autoscaler.loop import HEARTBEAT_VAR


@pytest.fixture(autouse=True)
def health_file_in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.setenv(HEARTBEAT_VAR, str(tmp_path / "autoscaler.alive"))
