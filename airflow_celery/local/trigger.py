"""`airflow-celery local trigger`: trigger a DAG on the local cluster and report its timing."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from airflow_celery.cluster import SecretName
from airflow_celery.local.api import AirflowApi, RunResult, follow_run
from airflow_celery.local.logs import failed_task_tails
from airflow_celery.local.state import ADMIN_USERNAME, StatePaths, load_options, read_secrets
from airflow_celery.local.trigger_options import TriggerOptions


def api_for(state_dir: Path) -> AirflowApi:
    paths = StatePaths(state_dir)
    options, _ = load_options(paths)
    secrets = read_secrets(paths)
    base_url = f"http://127.0.0.1:{options.ports['api-server.http']}"
    return AirflowApi(base_url, ADMIN_USERNAME, secrets[SecretName.ADMIN_PASSWORD])


def trigger_dag(
    state_dir: Path,
    dag_id: str,
    wait: bool,
    timeout: float,
    console: Console,
    options: TriggerOptions | None = None,
) -> RunResult | None:
    """Trigger as the UI form does (options.logical_date); with `wait`, follow the run, then show the last
    lines of each failed task's log."""
    options = options or TriggerOptions()
    api = api_for(state_dir)
    try:
        dag = api.wait_for_dag(dag_id)
        logical_date = options.logical_date.resolve(partitioned=bool(dag.get("timetable_partitioned")))
        run_id, triggered_at = api.trigger(dag_id, logical_date, options.conf, options.run_id)
        when = logical_date.isoformat() if logical_date else "none"
        console.print(f"triggered {dag_id}: run {run_id} (logical date {when})", soft_wrap=True)
        if not wait:
            return None
        result = follow_run(api, dag_id, run_id, triggered_at, timeout, console.print)
        tails = failed_task_tails(api, dag_id, run_id, result.tasks) if result.state != "success" else []
    finally:
        api.close()
    console.print(result_table(result))
    for task, lines in tails:
        heading = f"===== {task.task_id} ({task.state}), try {task.try_number}: last {len(lines)} lines of its log"
        heading += " ====="
        console.print(heading, markup=False, highlight=False, soft_wrap=True)
        console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if result.state != "success":
        console.print(_next_steps(state_dir, dag_id, run_id, result), markup=False, highlight=False, soft_wrap=True)
    return result


def _next_steps(state_dir: Path, dag_id: str, run_id: str, result: RunResult) -> str:
    where = f" --state-dir {state_dir}" if state_dir != Path(".state/local").absolute() else ""
    if result.state.startswith("timed out"):
        return (
            f"The run had not ended after the timeout: raise --timeout, or read a task's log as it runs with "
            f"`airflow-celery local logs {dag_id} {run_id} TASK_ID --follow{where}`"
        )
    return f"Whole logs: `airflow-celery local logs {dag_id} {run_id}{where}` (failed tasks) or add a TASK_ID"


def result_table(result: RunResult) -> Table:
    table = Table(title=f"{result.dag_id} {result.run_id}: {result.state}")
    for column in ("task", "state", "start (s)", "end (s)", "duration (s)"):
        table.add_column(column)
    origin = result.triggered_at
    for task in sorted(result.tasks, key=lambda t: (t.start or origin, t.task_id)):
        start = f"{(task.start - origin).total_seconds():.1f}" if task.start else "-"
        end = f"{(task.end - origin).total_seconds():.1f}" if task.end else "-"
        duration = f"{(task.end - task.start).total_seconds():.1f}" if task.start and task.end else "-"
        table.add_row(task.task_id, task.state or "-", start, end, duration)
    makespan = f"{result.makespan:.1f} s" if result.makespan is not None else "-"
    total = f"{result.trigger_to_end:.1f} s" if result.trigger_to_end is not None else "-"
    table.caption = f"makespan (first start to last end): {makespan}; trigger to {result.state}: {total}"
    return table
