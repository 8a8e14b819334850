"""The CLI's consoles: tables and lines written to a pipe or a file are never cut to 80 columns."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from airflow_celery.console import UNBOUNDED_WIDTH, cli_console
from airflow_celery.local.api import RunResult, TaskTimes
from airflow_celery.local.trigger import result_table

LONG_TASK_ID = "extract_the_orders_of_every_region_then_load_them_into_the_warehouse_" + "x" * 60
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def run_result() -> RunResult:
    task = TaskTimes(LONG_TASK_ID, "success", START + timedelta(seconds=2), START + timedelta(seconds=5))
    return RunResult(
        "celery_parallel_demo", "manual__2026-11-30", "success", START, START + timedelta(seconds=6), [task]
    )


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    """As in CI or a log: no terminal on any standard stream (rich also sizes from stdin's terminal), no hints."""
    for name in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)

    def no_terminal_size(fd: int = 1) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.setattr(os, "get_terminal_size", no_terminal_size)


def printed(console: Console) -> str:
    console.print(result_table(run_result()))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_rich_alone_cuts_a_piped_table_to_80_columns():
    """The problem, reproduced from rich itself (rich/console.py, Console.size: no terminal, no COLUMNS -> 80)."""
    text = printed(Console(file=io.StringIO()))

    assert max(len(line) for line in text.splitlines()) <= 80
    assert LONG_TASK_ID not in text


def test_cli_console_keeps_a_piped_table_whole():
    text = printed(cli_console(file=io.StringIO()))

    row = next(line for line in text.splitlines() if LONG_TASK_ID in line)
    assert "success" in row and "3.0" in row
    assert max(len(line) for line in text.splitlines()) < 2 * len(LONG_TASK_ID), "the table is as wide as its content"


def test_cli_console_respects_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")

    assert cli_console(file=io.StringIO()).width == 100


def test_cli_console_on_a_terminal_keeps_rich_sizing():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    console = cli_console(file=Terminal())

    assert console.is_terminal
    assert console.width != UNBOUNDED_WIDTH


def test_the_cli_prints_through_it_when_piped():
    """`airflow-celery local trigger --wait | tee run.log`: the CLI's console, its stdout a pipe."""
    probe = (
        "from airflow_celery import cli\n"
        "from tests.test_console import run_result\n"
        "from airflow_celery.local.trigger import result_table\n"
        "cli.console.print(result_table(run_result()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )

    assert LONG_TASK_ID in result.stdout
