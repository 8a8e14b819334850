"""The rule watchdog/broken_dags.py works around, reproduced with the pinned Airflow 3.3.2's own code on a database.

Airflow's functions run on a SQLite metadata database made from its models, in a fresh Python (Airflow reads its
config once): the dag-processor's `_update_import_errors` (what a parse with an error writes), the scheduler's
`DagRun.get_running_dag_runs_to_examine`, and for a deleted file `clear_orphaned_import_errors` and
`DagModel.deactivate_deleted_dags`. Our RESUME_SQL runs on the same database in between.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.airflow

SCENARIO = """
import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import logging
from sqlalchemy import select

from airflow import settings
from airflow.models.base import Base
import airflow.models  # noqa: F401  every model's table
from airflow.models.dag import DagModel
from airflow.models.dagbundle import DagBundleModel
from airflow.models.dagrun import DagRun
from airflow.models.errors import ParseImportError
from airflow.dag_processing.collection import _update_import_errors
from airflow.dag_processing.manager import DagFileProcessorManager
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunType

from airflow_celery.watchdog.broken_dags import resume_in_flight_runs

Base.metadata.create_all(settings.engine)
session = settings.Session()
session.add(DagBundleModel(name="dags"))
session.flush()
now = datetime.now(timezone.utc) - timedelta(hours=1)  # run_after <= the database's now()
# probe.py will break and stay; gone.py breaks, then is deleted; plain.py breaks under an unversioned run.
for dag_id in ("probe", "gone", "plain"):
    session.add(DagModel(dag_id=dag_id, bundle_name="dags", relative_fileloc=f"{dag_id}.py",
                         fileloc=f"/bundles/dags/{dag_id}.py", is_stale=False, is_paused=False))
session.flush()
for dag_id, version in (("probe", "c1"), ("gone", "c1"), ("plain", None)):
    session.add(DagRun(dag_id=dag_id, run_id=f"{dag_id}_run", run_type=DagRunType.MANUAL, state=DagRunState.RUNNING,
                       run_after=now, bundle_version=version))
session.commit()


def examined():
    runs = sorted(r.dag_id for r in DagRun.get_running_dag_runs_to_examine(session=session))
    session.rollback()  # the query locks rows FOR UPDATE; end its transaction as the scheduler does
    return runs


def stale():
    return sorted(session.scalars(select(DagModel.dag_id).where(DagModel.is_stale)))


def parse_with_errors(*names):
    files = {("dags", f"{name}.py") for name in names}
    _update_import_errors(files_parsed=files, bundle_name="dags",
                          import_errors={f: "SyntaxError: invalid syntax" for f in files}, session=session)
    session.commit()


out = {"before": examined()}
parse_with_errors("probe", "gone", "plain")
out["after_broken_parse"] = {"stale": stale(), "examined": examined()}
out["cleared"] = resume_in_flight_runs(settings.engine)
out["after_resume"] = {"stale": stale(), "examined": examined()}
parse_with_errors("probe")
out["after_next_parse"] = {"stale": stale(), "examined": examined()}
out["cleared_again"] = resume_in_flight_runs(settings.engine)

# gone.py deleted by a new version: what the dag-processor does on a refresh (_refresh_dag_bundles).
manager = SimpleNamespace(log=logging.getLogger("test"))
DagFileProcessorManager.clear_orphaned_import_errors(manager, bundle_name="dags",
                                                     observed_filelocs={"probe.py", "plain.py"}, session=session)
DagModel.deactivate_deleted_dags("dags", {"probe.py", "plain.py"}, session=session)
session.commit()
out["errors_after_delete"] = sorted(session.scalars(select(ParseImportError.filename)))
out["cleared_after_delete"] = resume_in_flight_runs(settings.engine)
out["stale_after_delete"] = stale()

# The in-flight run ends: nothing is kept any more, and the next parse leaves the DAG stale as Airflow wants.
session.execute(DagRun.__table__.update().where(DagRun.dag_id == "probe").values(state=DagRunState.SUCCESS))
session.commit()
parse_with_errors("probe")
out["cleared_after_run_ended"] = resume_in_flight_runs(settings.engine)
out["stale_after_run_ended"] = stale()
print(json.dumps(out))
"""


def test_a_broken_file_stops_its_running_runs_and_the_watchdog_resumes_only_versioned_ones_of_existing_files(
    tmp_path,
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCENARIO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["before"] == ["gone", "plain", "probe"]
    # Airflow: a parse with an error makes every DAG of the file stale, and the scheduler drops their running runs.
    assert out["after_broken_parse"] == {"stale": ["gone", "plain", "probe"], "examined": []}
    # Ours: runs of a versioned bundle are examined again; the unversioned run's DAG is left to Airflow.
    assert out["cleared"] == ["gone", "probe"]
    assert out["after_resume"] == {"stale": ["plain"], "examined": ["gone", "probe"]}
    # Airflow marks the DAG stale at each parse of the broken file, and the next round clears it again.
    assert out["after_next_parse"] == {"stale": ["plain", "probe"], "examined": ["gone"]}
    assert out["cleared_again"] == ["probe"]
    # A deleted file: Airflow removes its import error and deactivates its DAG; we leave that DAG stale.
    assert out["errors_after_delete"] == ["plain.py", "probe.py"]
    assert out["cleared_after_delete"] == []
    assert out["stale_after_delete"] == ["gone", "plain"]
    # Once no run of an earlier version is in flight, Airflow's deactivation stands.
    assert out["cleared_after_run_ended"] == []
    assert out["stale_after_run_ended"] == ["gone", "plain", "probe"]
