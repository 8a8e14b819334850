"""The autoscaler's tests write its health file where each test says, never to the sidecar's default
(/tmp/autoscaler.alive, loop.DEFAULT_HEARTBEAT), which tests that run a round without naming one touched. A test
that checks the file takes the fixture: its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_celery.autoscaler.loop import HEARTBEAT_VAR


@pytest.fixture(autouse=True)
def health_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "autoscaler.alive"
    monkeypatch.setenv(HEARTBEAT_VAR, str(path))
    return path
