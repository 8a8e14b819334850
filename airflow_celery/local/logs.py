"""`airflow-celery local logs`: a task's log through the REST API, the way the UI reads it.

The api-server reads the log where Airflow keeps it (the worker's log server while the task runs, the log
folder after), so this works for any task, on any worker, without knowing where its file is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from airflow_celery.local.api import AirflowApi, TaskTimes
from airflow_celery.local.errors import LocalError

FOLLOW_POLL = 1.0
MAX_CHUNKS = 1000
"""A bound on continuation requests for one finished log (each returns everything the reader has)."""
TAIL_LINES = 20
START_TIMEOUT = 600.0
"""How long `--follow` waits for a task that has not started (queued, scheduled, waiting for upstream)."""
KNOWN_KEYS = {"timestamp", "event", "level", "logger", "error_detail", "chan", "sources"}
TASK_IDENTITY_KEYS = {"dag_id", "run_id", "task_id", "map_index", "try_number", "ti_id", "filename", "lineno"}
"""Repeated on every line of a task's log (the header names the task once); the UI hides them too."""


def format_message(message: dict | str) -> list[str]:
    """One structured log message (api_fastapi/core_api/datamodels/log.py StructuredLogMessage) as text lines:
    `timestamp LEVEL logger: event key=value`, then the traceback of an `error_detail`, as the UI shows it."""
    if isinstance(message, str):
        return message.splitlines() or [""]
    head = " ".join(
        part
        for part in (
            str(message.get("timestamp") or ""),
            str(message.get("level") or "").upper(),
            f"{message['logger']}:" if message.get("logger") else "",
        )
        if part
    )
    extras = " ".join(f"{key}={value}" for key, value in message.items() if key not in KNOWN_KEYS | TASK_IDENTITY_KEYS)
    event = str(message.get("event", ""))
    if message.get("sources"):
        event = f"{event} {', '.join(map(str, message['sources']))}"
    lines = [" ".join(part for part in (head, event, extras) if part)]
    for error in message.get("error_detail") or []:
        lines += _traceback(error)
    return lines


def _traceback(error: dict) -> list[str]:
    lines = ["Traceback (most recent call last):"]
    for frame in error.get("frames") or []:
        lines.append(f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}')
    lines.append(f"{error.get('exc_type')}: {error.get('exc_value')}")
    return lines


def log_lines(api: AirflowApi, dag_id: str, run_id: str, task: TaskTimes, try_number: int) -> list[str]:
    """The whole log of one try, as it is now."""
    lines: list[str] = []
    token = None
    for _ in range(MAX_CHUNKS):
        content, token = api.task_log(dag_id, run_id, task.base_task_id, try_number, task.map_index, token)
        for message in content:
            lines += format_message(message)
        if not token or not content:
            break
    return lines


def follow_log(
    api: AirflowApi, dag_id: str, run_id: str, task: TaskTimes, try_number: int, out: Callable[[str], None]
) -> None:
    """Print the log and then its new lines until Airflow says it has ended (the try finished)."""
    token = None
    while True:
        content, token = api.task_log(dag_id, run_id, task.base_task_id, try_number, task.map_index, token)
        for message in content:
            for line in format_message(message):
                out(line)
        if not token:
            return
        time.sleep(FOLLOW_POLL)


def pick_tasks(tasks: Iterable[TaskTimes], task_id: str | None) -> list[TaskTimes]:
    """TASK_ID (every map index of a mapped task, or `task[3]` for one), or else the failed tasks."""
    tasks = list(tasks)
    if task_id is None:
        return [t for t in tasks if t.state in ("failed", "up_for_retry")]
    return [t for t in tasks if task_id in (t.task_id, t.base_task_id)]


@dataclass(frozen=True)
class LogRequest:
    dag_id: str
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    follow: bool = False


def resolve_run(api: AirflowApi, dag_id: str, run_id: str | None) -> str:
    if run_id:
        return run_id
    run = api.latest_run(dag_id)
    if run is None:
        raise LocalError(
            f"DAG {dag_id!r} has no runs yet: trigger one with `airflow-celery local trigger {dag_id}`, then ask again"
        )
    return run["dag_run_id"]


def show_logs(api: AirflowApi, request: LogRequest, out: Callable[[str], None]) -> None:
    run_id = resolve_run(api, request.dag_id, request.run_id)
    tasks = api.task_instances(request.dag_id, run_id)
    chosen = pick_tasks(tasks, request.task_id)
    if not chosen:
        raise LocalError(_nothing_chosen(request, run_id, tasks))
    for task in chosen:
        if request.follow and task.try_number < 1 and not request.try_number:
            task = wait_until_started(api, request.dag_id, run_id, task, out)
        try_number = request.try_number or task.try_number
        if try_number < 1:
            raise LocalError(
                f"{task.task_id} in run {run_id} has not started ({task.state or 'no state'}): it has no log yet; "
                f"try again once it runs, or follow it: `airflow-celery local logs {request.dag_id} {run_id} "
                f"{task.task_id} --follow`"
            )
        if try_number > max(task.try_number, 1):
            raise LocalError(
                f"--try {try_number}: {task.task_id} in run {run_id} has had {task.try_number} tries; "
                f"give a number from 1 to {task.try_number}"
            )
        out(f"===== {request.dag_id} {run_id} {task.task_id} try {try_number} ({task.state}) =====")
        if request.follow:
            follow_log(api, request.dag_id, run_id, task, try_number, out)
        else:
            for line in log_lines(api, request.dag_id, run_id, task, try_number):
                out(line)


def wait_until_started(
    api: AirflowApi, dag_id: str, run_id: str, task: TaskTimes, out: Callable[[str], None]
) -> TaskTimes:
    """With --follow, a task that has not started yet is waited for (at most START_TIMEOUT)."""
    out(f"waiting for {task.task_id} to start ({task.state or 'no state'}) ...")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(FOLLOW_POLL)
        current = next((t for t in api.task_instances(dag_id, run_id) if t.task_id == task.task_id), task)
        if current.try_number >= 1:
            return current
    return task


def _nothing_chosen(request: LogRequest, run_id: str, tasks: list[TaskTimes]) -> str:
    listing = ", ".join(f"{t.task_id} ({t.state})" for t in tasks) or "none yet"
    if request.task_id is None:
        return (
            f"run {run_id} of {request.dag_id} has no failed task; its tasks: {listing}. Name one: "
            f"`airflow-celery local logs {request.dag_id} {run_id} TASK_ID`"
        )
    return (
        f"run {run_id} of {request.dag_id} has no task {request.task_id!r}; its tasks: {listing}. "
        f"Pick one of those (or another run: the run ids are in the UI, `airflow-celery local info`)"
    )


def failed_task_tails(
    api: AirflowApi, dag_id: str, run_id: str, tasks: Iterable[TaskTimes], lines: int = TAIL_LINES
) -> list[tuple[TaskTimes, list[str]]]:
    """The last lines of each failed task's latest try: what `trigger --wait` prints after a failed run."""
    tails = []
    for task in pick_tasks(tasks, None):
        if task.try_number < 1:
            continue
        try:
            text = log_lines(api, dag_id, run_id, task, task.try_number)
        except LocalError as error:
            text = [f"(could not read its log: {error})"]
        tails.append((task, text[-lines:]))
    return tails
