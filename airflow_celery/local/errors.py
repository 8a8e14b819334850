"""The one exception type of local mode: a failure the operator can fix, with a message that says how."""

from __future__ import annotations


class LocalError(Exception):
    """Shown to the user as is, without a traceback; the CLI exits non-zero."""


INSTALL_HINT = "pip install 'airflow-celery[local]'"
