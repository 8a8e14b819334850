"""Stamping a new version's changed files ahead of the refresh (the rule it serves is tested with Airflow's own
manager in tests/bundles/test_s3_bundle_airflow.py and tests/cluster/test_dag_source_airflow.py)."""

from __future__ import annotations

import time

from airflow_celery.bundles.freshness import STALE_PARSE_MARGIN, stamp_ahead


def test_each_file_gets_the_same_mtime_the_margin_ahead_and_the_others_keep_theirs(tmp_path):
    changed = [tmp_path / "b.py", tmp_path / "a.py"]
    for path in [*changed, tmp_path / "steady.py"]:
        path.write_text("# dag\n")
    before = time.time()
    stamped = stamp_ahead(changed)
    after = time.time()
    assert stamped == sorted(changed)
    mtimes = {path.name: path.stat().st_mtime for path in tmp_path.iterdir()}
    assert mtimes["a.py"] == mtimes["b.py"]
    assert before + STALE_PARSE_MARGIN <= mtimes["a.py"] <= after + STALE_PARSE_MARGIN
    assert mtimes["steady.py"] <= after
