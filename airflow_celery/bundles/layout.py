"""Where a versioned S3 bundle's objects live: `<prefix>versions/<sha256>.tar.gz` and the `<prefix>current` pointer.

Its own module, without Airflow, so that `airflow-celery dags push` (bundles/push.py, which validates in a fresh
process) and local mode's pointer read do not import Airflow for two key names: `import airflow` costs about
1.6 CPU seconds (2026-12-07). The bundle itself is bundles/s3.py.
"""

from __future__ import annotations

import re

VERSION = re.compile(r"[0-9a-f]{64}")
"""A version is the sha256 of its archive, in hex."""
POINTER = "current"


def archive_key(prefix: str, version: str) -> str:
    return f"{prefix}versions/{version}.tar.gz"


def pointer_key(prefix: str) -> str:
    return f"{prefix}{POINTER}"
