"""What the watchdog relies on from the pinned Airflow and its Celery provider, read from their source.

Aging a lost task's `last_heartbeat_at` must put it on exactly the path a heartbeat timeout takes: the scheduler's
check selects on that column and the state alone, and fails or retries what it selects.
"""

from __future__ import annotations

import inspect

import pytest

pytestmark = pytest.mark.airflow


def test_the_watchdog_reads_and_writes_airflows_own_columns():
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.state import TaskInstanceState

    from airflow_celery.watchdog.tasks import AGE_SQL, RUNNING_SQL

    columns = set(TaskInstance.__table__.c.keys())
    used = {"id", "state", "external_executor_id", "last_heartbeat_at", "start_date", "dag_id", "task_id", "run_id",
            "try_number"}  # fmt: skip
    assert used <= columns
    assert TaskInstance.__tablename__ == "task_instance"
    assert TaskInstanceState.RUNNING.value == "running"
    assert "'running'" in RUNNING_SQL and "'running'" in AGE_SQL
    assert str(TaskInstance.__table__.c.id.type).upper().startswith("UUID") or "Uuid" in repr(
        TaskInstance.__table__.c.id.type
    )


def test_the_heartbeat_check_selects_on_the_aged_column_and_state_only():
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    source = inspect.getsource(SchedulerJobRunner._find_task_instances_without_heartbeats)
    assert "TI.last_heartbeat_at < limit_dttm" in source
    assert "TI.state.in_((TaskInstanceState.RUNNING, TaskInstanceState.RESTARTING))" in source
    assert 'conf.getint(\n            "scheduler", "task_instance_heartbeat_timeout"' in inspect.getsource(
        SchedulerJobRunner.__init__
    )


def test_what_the_check_selects_is_retried_when_it_has_a_try_left():
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    purge = inspect.getsource(SchedulerJobRunner._purge_task_instances_without_heartbeats)
    assert "ti.max_tries > 0 and ti.is_eligible_to_retry()" in purge
    assert "TaskInstanceState.UP_FOR_RETRY" in purge
    assert "executor.change_state(ti.key, TaskInstanceState.FAILED, remove_running=True)" in purge
    detect = inspect.getsource(SchedulerJobRunner._run_scheduler_loop)
    assert '"task_instance_heartbeat_timeout_detection_interval", fallback=10.0' in detect


def test_the_celery_task_id_is_the_external_executor_id_the_scheduler_stores():
    from airflow.providers.celery.executors import celery_executor_utils
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor

    assert CeleryExecutor.pre_assigns_external_executor_id is True
    send = inspect.getsource(celery_executor_utils.send_workload_to_executor)
    assert "apply_async(args=args, queue=queue, task_id=celery_task_id)" in send


def test_a_worker_answers_inspect_active_with_its_running_requests_ids():
    from celery.worker import control

    source = inspect.getsource(control.active)
    assert "active_requests" in source and "request.info" in source


def test_resume_sql_names_airflows_own_tables_columns_and_states():
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.errors import ParseImportError
    from airflow.utils.state import DagRunState

    from airflow_celery.watchdog.broken_dags import RESUME_SQL

    assert (DagModel.__tablename__, DagRun.__tablename__, ParseImportError.__tablename__) == (
        "dag",
        "dag_run",
        "import_error",
    )
    assert {"dag_id", "is_stale", "has_import_errors", "bundle_name", "relative_fileloc"} <= set(
        DagModel.__table__.c.keys()
    )
    assert {"dag_id", "state", "bundle_version"} <= set(DagRun.__table__.c.keys())
    assert {"bundle_name", "filename"} <= set(ParseImportError.__table__.c.keys())
    assert (DagRunState.QUEUED.value, DagRunState.RUNNING.value) == ("queued", "running")
    assert "'queued', 'running'" in RESUME_SQL


def test_a_parse_with_an_error_makes_the_files_dags_stale_and_the_scheduler_skips_stale_dags_runs():
    """The cause, in the source: what test_broken_dags_airflow.py reproduces by running it."""
    from airflow.dag_processing import collection
    from airflow.models.dagrun import DagRun

    update = inspect.getsource(collection._update_import_errors)
    assert "has_import_errors=True" in update and "is_stale=True" in update
    assert "DagModel.relative_fileloc == relative_fileloc" in update
    for query in (DagRun.get_running_dag_runs_to_examine, DagRun.get_queued_dag_runs_to_set_running):
        assert "DagModel.is_stale == false()" in inspect.getsource(query)


def test_a_new_run_of_a_dag_with_import_errors_is_refused_whether_or_not_it_is_stale():
    """404 for a stale DAG, 400 for one with import errors (public API); the scheduler creates no run of it."""
    from airflow.api_fastapi.core_api.routes.public import dag_run
    from airflow.models.dag import DagModel

    trigger = inspect.getsource(dag_run.trigger_dag_run)
    stale_check = trigger.index("~DagModel.is_stale")
    errors_check = trigger.index("if dm.has_import_errors:")
    assert stale_check < trigger.index("HTTP_404_NOT_FOUND", stale_check) < errors_check
    assert errors_check < trigger.index("HTTP_400_BAD_REQUEST", errors_check)
    assert "has import errors and cannot be triggered" in trigger
    assert "cls.has_import_errors == expression.false()" in inspect.getsource(DagModel.dags_needing_dagruns)


def test_no_airflow_option_keeps_a_dag_with_import_errors_active():
    """Every option Airflow 3.3.2 has about import errors or stale things: tracebacks, timeouts and thresholds,
    none that keeps the DAG of a file with an import error active."""
    from airflow.configuration import retrieve_configuration_description

    sections = retrieve_configuration_description()
    near = sorted(k for s in sections.values() for k in s["options"] if "import_error" in k or "stale" in k)
    assert near == [
        "dagbag_import_error_traceback_depth",
        "dagbag_import_error_tracebacks",
        "stale_bundle_cleanup_age_threshold",
        "stale_bundle_cleanup_interval",
        "stale_bundle_cleanup_min_versions",
        "stale_dag_threshold",
    ]
