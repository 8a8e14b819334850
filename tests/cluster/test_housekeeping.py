"""The `airflow db clean` command: its arguments parse with the pinned Airflow CLI, and the tables it cleans
include Celery's result tables (airflow/utils/db_cleanup.py, config_list)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_celery.cluster.housekeeping import BATCH_SIZE, clean_argv


def test_the_command_keeps_the_retention_and_drops_rows_without_archiving_them():
    argv = clean_argv(30, datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    assert argv[:3] == ["airflow", "db", "clean"]
    assert argv[argv.index("--clean-before-timestamp") + 1] == "2026-03-01T12:00:00+00:00"
    assert {"--skip-archive", "--yes", "--error-on-cleanup-failure"} <= set(argv)
    assert argv[argv.index("--batch-size") + 1] == str(BATCH_SIZE)


@pytest.mark.parametrize("days", [0, 3651])
def test_a_retention_out_of_range_is_refused(days):
    with pytest.raises(ValueError, match="retention_days"):
        clean_argv(days, datetime.now(UTC))


@pytest.mark.airflow
def test_the_pinned_airflow_cli_parses_it_and_cleans_celerys_result_tables():
    """airflow/cli/commands/db_command.py `cleanup_tables` passes these to `run_cleanup`; no table list means
    every table of `config_dict`, where celery_taskmeta and celery_tasksetmeta are cleaned by `date_done`."""
    from airflow.cli import cli_parser
    from airflow.utils.db_cleanup import config_dict

    args = cli_parser.get_parser().parse_args(clean_argv(30, datetime(2026, 3, 31, tzinfo=UTC))[1:])
    assert args.func.__name__ == "cleanup_tables"
    assert (args.yes, args.skip_archive, args.error_on_cleanup_failure, args.tables) == (True, True, True, None)
    assert args.clean_before_timestamp == datetime(2026, 3, 1, tzinfo=UTC)
    assert config_dict["celery_taskmeta"].recency_column_name == "date_done"
    assert config_dict["celery_tasksetmeta"].recency_column_name == "date_done"
    assert {"dag_run", "task_instance", "xcom", "log", "job"} <= set(config_dict)
