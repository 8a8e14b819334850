"""Triggering a DAG and following its run through Airflow 3's public REST API (`/auth/token`, `/api/v2`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from airflow_celery.local.errors import LocalError

TERMINAL_RUN_STATES = {"success", "failed"}
POLL_INTERVAL = 1.0
DAG_APPEAR_TIMEOUT = 120.0


@dataclass
class TaskTimes:
    task_id: str
    state: str | None
    start: datetime | None
    end: datetime | None
    hostname: str | None = None
    try_number: int | None = None


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    triggered_at: datetime
    finished_at: datetime | None
    tasks: list[TaskTimes] = field(default_factory=list)

    @property
    def makespan(self) -> float | None:
        """First task start to last task end, in seconds."""
        starts = [t.start for t in self.tasks if t.start]
        ends = [t.end for t in self.tasks if t.end]
        if not starts or not ends:
            return None
        return (max(ends) - min(starts)).total_seconds()

    @property
    def trigger_to_end(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.triggered_at).total_seconds()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class AirflowApi:
    """A logged-in client for one api-server."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.client = httpx.Client(base_url=base_url, timeout=timeout)
        try:
            response = self.client.post("/auth/token", json={"username": username, "password": password})
        except httpx.HTTPError as error:
            raise LocalError(
                f"cannot reach the api-server at {base_url} ({type(error).__name__}); is the cluster up? "
                "see `airflow-celery local status`"
            ) from None
        if response.status_code not in (200, 201):
            raise LocalError(f"login to {base_url}/auth/token as {username!r} failed: HTTP {response.status_code}")
        self.client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise LocalError(f"{method} {path}: {type(error).__name__}; see `airflow-celery local status`") from None
        if not response.is_success:
            raise LocalError(f"{method} {path} failed: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = DAG_APPEAR_TIMEOUT) -> None:
        """The dag-processor parses files in the background: a new DAG appears after a few seconds."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"/api/v2/dags/{dag_id}")
            if response.is_success:
                return
            if response.status_code != 404:
                raise LocalError(f"GET /api/v2/dags/{dag_id} failed: HTTP {response.status_code}")
            if time.monotonic() > deadline:
                raise LocalError(
                    f"DAG {dag_id!r} did not appear within {timeout:.0f} s: is its file in the dags folder, and does "
                    f"it import? See logs/dag-processor.log and /api/v2/importErrors. A file added after `up` is "
                    f"only found at the dag-processor's next folder scan ([dag_processor] refresh_interval, 300 s)"
                )
            time.sleep(POLL_INTERVAL)

    def trigger(self, dag_id: str) -> tuple[str, datetime]:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        run = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return run["dag_run_id"], _parse_time(run.get("queued_at") or run.get("run_after"))

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskTimes]:
        data = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return [
            TaskTimes(
                task_id=ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""),
                state=ti.get("state"),
                start=_parse_time(ti.get("start_date")),
                end=_parse_time(ti.get("end_date")),
                hostname=ti.get("hostname"),
                try_number=ti.get("try_number"),
            )
            for ti in data["task_instances"]
        ]


def follow_run(
    api: AirflowApi, dag_id: str, run_id: str, triggered_at: datetime, timeout: float, on_event: Callable[[str], None]
) -> RunResult:
    """Poll the run until it ends or `timeout` passes, reporting each task's start and end once."""
    deadline = time.monotonic() + timeout
    seen_start: set[str] = set()
    seen_end: set[str] = set()
    while True:
        run = api.run(dag_id, run_id)
        tasks = api.task_instances(dag_id, run_id)
        for task in sorted(tasks, key=lambda t: (t.start or triggered_at, t.task_id)):
            if task.start and task.task_id not in seen_start:
                seen_start.add(task.task_id)
                on_event(f"{_offset(task.start, triggered_at)} start {task.task_id}")
            if task.end and task.task_id not in seen_end and task.state not in (None, "running", "deferred"):
                seen_end.add(task.task_id)
                on_event(f"{_offset(task.end, triggered_at)} end   {task.task_id} ({task.state})")
        if run["state"] in TERMINAL_RUN_STATES:
            return RunResult(dag_id, run_id, run["state"], triggered_at, _parse_time(run.get("end_date")), tasks)
        if time.monotonic() > deadline:
            return RunResult(dag_id, run_id, f"timed out ({run['state']})", triggered_at, None, tasks)
        time.sleep(POLL_INTERVAL)


def _offset(moment: datetime, origin: datetime) -> str:
    return f"+{(moment - origin).total_seconds():6.1f} s"
