"""The rich consoles the CLI prints with: fitted to a terminal, never cut when written to a pipe or a file.

A rich Console that writes to no terminal and finds no COLUMNS in the environment assumes 80 columns
(rich/console.py, Console.size: `width = width or 80`) and wraps every longer line and table cell to fit,
so `airflow-celery local trigger --wait` tables in a log or CI output lose their task ids to wrapping.
Off a terminal the console here is given a width no line of ours reaches instead: a table is as wide as
its content (tables do not expand by default) and every line stays whole. COLUMNS, when set, still wins.
"""

import os
from typing import IO

from rich.console import Console

UNBOUNDED_WIDTH = 1000
"""The width given to a console that writes to a pipe or a file: wider than any table or line we print."""


def cli_console(stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A console for the CLI: rich's own sizing on a terminal, whole lines and tables anywhere else."""
    console = Console(stderr=stderr, file=file, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = UNBOUNDED_WIDTH
    return console
