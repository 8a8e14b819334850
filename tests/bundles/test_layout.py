"""The bundle's object keys live apart from the bundle, so the push and local mode's pointer read import no Airflow."""

from __future__ import annotations

import subprocess
import sys

from airflow_celery.bundles.layout import VERSION, archive_key, pointer_key

IMPORTS_WITHOUT_AIRFLOW = """
import sys
import airflow_celery.bundles.push, airflow_celery.local.dag_source
print(sorted(name for name in sys.modules if name == "airflow" or name.startswith("airflow.")))
"""


def test_the_push_and_local_modes_pointer_read_import_no_airflow():
    """`import airflow` is about 1.6 CPU seconds; the push validates with Airflow in a process of its own."""
    result = subprocess.run([sys.executable, "-c", IMPORTS_WITHOUT_AIRFLOW], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_a_version_is_an_archive_under_its_hash_and_the_pointer_sits_beside_the_versions():
    version = "ab" * 32
    assert VERSION.fullmatch(version) and not VERSION.fullmatch(version.upper())
    assert archive_key("team/", version) == f"team/versions/{version}.tar.gz"
    assert pointer_key("team/") == "team/current"
