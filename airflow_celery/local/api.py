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
PAGE = 100
"""Airflow's default `[api] maximum_page_limit`: a larger `limit` is cut to it."""


@dataclass
class TaskTimes:
    task_id: str
    state: str | None
    start: datetime | None
    end: datetime | None
    hostname: str | None = None
    try_number: int = 0
    map_index: int = -1

    @property
    def base_task_id(self) -> str:
        """The task id without the `[map_index]` suffix."""
        return self.task_id.split("[", 1)[0]


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


NEXT_STEPS = {
    400: "Airflow refused the request as shown; change the value it names",
    401: "the login expired or was refused: run the command again",
    403: "the admin user lacks this permission: see `airflow-celery local airflow users list`",
    404: "check the id: `airflow-celery local airflow dags list` lists the DAGs, the UI (`airflow-celery local info`) "
    "their runs and tasks",
    409: "it already exists: pass another --run-id, or another --logical-date (a DAG has one run per logical date)",
    422: "the request does not match Airflow's API: the message names the field",
}


def _detail(response: httpx.Response) -> str:
    """FastAPI's `detail` (a string, or a list of validation errors), else the start of the body."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:500] if detail else response.text[:300]


def _next_step(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return "the api-server failed: see logs/api-server.log in the state dir and `airflow-celery local status`"
    return NEXT_STEPS.get(response.status_code, "see logs/api-server.log in the state dir")


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
            raise LocalError(
                f"login to {base_url}/auth/token as {username!r} failed: HTTP {response.status_code}; the password "
                "comes from secrets.json in the state dir: is --state-dir the one `local up` used? "
                "(`airflow-celery local info` shows it)"
            )
        self.client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise LocalError(
                f"{method} {path}: {type(error).__name__}; is the api-server up? see `airflow-celery local status`"
            ) from None
        if not response.is_success:
            raise LocalError(
                f"{method} {path} failed: HTTP {response.status_code} {_detail(response)}; {_next_step(response)}"
            )
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = DAG_APPEAR_TIMEOUT) -> dict:
        """The dag-processor parses files in the background: a new DAG appears after a few seconds.
        Returns the DAG as `GET /api/v2/dags/{dag_id}` describes it."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"/api/v2/dags/{dag_id}")
            if response.is_success:
                return response.json()
            if response.status_code != 404:
                raise LocalError(
                    f"GET /api/v2/dags/{dag_id} failed: HTTP {response.status_code} {_detail(response)}; "
                    f"{_next_step(response)}"
                )
            if time.monotonic() > deadline:
                raise LocalError(
                    f"DAG {dag_id!r} did not appear within {timeout:.0f} s: is its file in the dags folder, and does "
                    f"it import? `airflow-celery local airflow dags list-import-errors` says why a file failed. "
                    f"A file added after `up` is "
                    f"only found at the dag-processor's next folder scan ([dag_processor] refresh_interval, 300 s)"
                )
            time.sleep(POLL_INTERVAL)

    def trigger(
        self, dag_id: str, logical_date: datetime | None = None, conf: dict | None = None, run_id: str | None = None
    ) -> tuple[str, datetime]:
        """Unpause (as the UI form's "unpause" box, checked by default, does) and create a manual run.
        `logical_date` None sends JSON null: a run without a logical date (`local trigger` picks the UI's)."""
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        body: dict = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        run = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return run["dag_run_id"], _parse_time(run.get("queued_at") or run.get("run_after"))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def dag_runs(self, dag_id: str, limit: int = PAGE) -> list[dict]:
        """The DAG's latest runs, newest first."""
        data = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": limit, "order_by": "-run_after"})
        return data["dag_runs"]

    def latest_run(self, dag_id: str) -> dict | None:
        """The run created last (by run_after), or None."""
        runs = self.dag_runs(dag_id, limit=1)
        return runs[0] if runs else None

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1, token: str | None = None
    ) -> tuple[list, str | None]:
        """One chunk of a task's log (`GET .../taskInstances/{task_id}/logs/{try_number}`, JSON): its messages and
        the continuation token for the lines after them (None once the log has ended)."""
        params: dict = {"map_index": map_index}
        if token:
            params["token"] = token
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        data = self._call("GET", path, params=params, headers={"Accept": "application/json"})
        return data.get("content") or [], data.get("continuation_token")

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskTimes]:
        """Every task instance of the run, page by page (the api-server caps a page at [api] maximum_page_limit)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        found: list[dict] = []
        while True:
            data = self._call("GET", path, params={"limit": PAGE, "offset": len(found), "order_by": "id"})
            found += data["task_instances"]
            if not data["task_instances"] or len(found) >= data.get("total_entries", 0):
                break
        return [
            TaskTimes(
                task_id=ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""),
                state=ti.get("state"),
                start=_parse_time(ti.get("start_date")),
                end=_parse_time(ti.get("end_date")),
                hostname=ti.get("hostname"),
                try_number=ti.get("try_number") or 0,
                map_index=ti.get("map_index", -1),
            )
            for ti in found
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
