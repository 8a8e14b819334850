"""How the entrypoint fails and speaks: one error type carrying its exit code (sysexits.h), one log prefix."""

from __future__ import annotations

import sys

EX_USAGE = 64
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
"""migrate, asked to stop for migrations: the schema is behind this Airflow; stop the services, then run me again."""
EX_CONFIG = 78


class EntrypointError(Exception):
    """A failure the operator can fix; the message says what and where."""

    def __init__(self, message: str, exit_code: int = EX_CONFIG):
        super().__init__(message)
        self.exit_code = exit_code


def log(message: str) -> None:
    print(f"[airflow-celery entrypoint] {message}", file=sys.stderr, flush=True)
