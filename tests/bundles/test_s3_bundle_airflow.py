"""The versioned S3 bundle and `dags push`, against a real S3-compatible server (moto's, on 127.0.0.1) and read
back by Airflow's own DagBundlesManager from our bundle list, in fresh processes as the dag-processor and a
worker would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airflow_celery.bundles.freshness import STALE_PARSE_MARGIN
from airflow_celery.bundles.layout import archive_key, pointer_key
from airflow_celery.bundles.push import PushError, build_archive, push
from airflow_celery.cluster.dag_source import dag_source
from tests.moto_support import moto_server

pytestmark = pytest.mark.airflow

BUCKET, PREFIX = "dags-bucket", "team/"
GOOD = """
from airflow.sdk import dag, task

CODE = "{code}"


@dag(dag_id="s3_probe", schedule=None, catchup=False)
def s3_probe():
    @task
    def show():
        return CODE

    show()


s3_probe()
"""


@pytest.fixture(scope="module")
def s3():
    with moto_server() as moto:
        client = moto.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client, moto.endpoint


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def _airflow(code: str, endpoint: str, storage: Path) -> dict:
    source = dag_source("s3", bucket=BUCKET, prefix=PREFIX, endpoint_url=endpoint, refresh_interval=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {"AIRFLOW_HOME": str(storage.parent / "home"), **source.environment(str(storage))}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


READ = """
import json, sys
from airflow.dag_processing.bundles.manager import DagBundlesManager
bundle = DagBundlesManager().get_bundle("dags", version={version!r})
bundle.initialize()
print(json.dumps({{"class": type(bundle).__name__, "versioned": bundle.supports_versioning,
                  "version": bundle.get_current_version(), "path": str(bundle.path),
                  "code": (bundle.path / "probe.py").read_text()}}))
"""


@pytest.mark.slow
def test_push_then_the_dag_processor_follows_current_and_a_worker_gets_its_runs_version(s3, tmp_path):
    client, endpoint = s3
    storage = tmp_path / "bundles"
    v1, dags = push(_folder(tmp_path, "v1", {"probe.py": GOOD.format(code="v1")}), client, BUCKET, PREFIX)
    assert dags == ["s3_probe"]
    tracking = _airflow(READ.format(version=None), endpoint, storage)
    assert tracking["class"] == "VersionedS3DagBundle" and tracking["versioned"] is True
    assert tracking["version"] == v1 and 'CODE = "v1"' in tracking["code"]

    v2, _ = push(_folder(tmp_path, "v2", {"probe.py": GOOD.format(code="v2")}), client, BUCKET, PREFIX)
    assert v2 != v1
    refreshed = _airflow(READ.format(version=None), endpoint, storage)
    assert refreshed["version"] == v2 and 'CODE = "v2"' in refreshed["code"]
    # A worker running a task of a run created on v1 gets v1, beside v2.
    old = _airflow(READ.format(version=v1), endpoint, storage)
    assert old["version"] == v1 and 'CODE = "v1"' in old["code"] and old["path"].endswith(v1)


def test_a_broken_folder_is_refused_with_file_and_line_and_nothing_is_uploaded(s3, tmp_path):
    client, _ = s3
    before = client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    pointer = client.get_object(Bucket=BUCKET, Key=pointer_key(PREFIX))["Body"].read() if before else None
    broken = GOOD.format(code="v3").replace("CODE =", "this is not python\nCODE =")
    folder = _folder(tmp_path, "broken", {"probe.py": broken, "fine.py": GOOD.replace("s3_probe", "s3_fine")})
    with pytest.raises(PushError) as error:
        push(folder, client, BUCKET, PREFIX)
    assert "probe.py:4" in str(error.value) and "nothing was uploaded" in str(error.value)
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == before
    if pointer is not None:
        assert client.get_object(Bucket=BUCKET, Key=pointer_key(PREFIX))["Body"].read() == pointer


def test_the_same_files_are_the_same_version(tmp_path):
    folder = _folder(tmp_path, "a", {"probe.py": GOOD.format(code="x")})
    body_a, version_a = build_archive(folder)
    os.utime(folder / "probe.py", (0, 0))
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "probe.cpython-311.pyc").write_bytes(b"cache")
    body_b, version_b = build_archive(folder)
    assert version_a == version_b and body_a == body_b


def test_an_altered_archive_is_refused(s3, tmp_path):
    client, endpoint = s3
    version, _ = push(_folder(tmp_path, "v9", {"probe.py": GOOD.format(code="v9")}), client, BUCKET, PREFIX)
    body, _ = build_archive(_folder(tmp_path, "other", {"probe.py": GOOD.format(code="evil")}))
    client.put_object(Bucket=BUCKET, Key=archive_key(PREFIX, version), Body=body)
    with pytest.raises(AssertionError, match="does not match its name"):
        _airflow(READ.format(version=version), endpoint, tmp_path / "fresh")


MTIMES = """
import json
from airflow.dag_processing.bundles.manager import DagBundlesManager
bundle = DagBundlesManager().get_bundle("dags")
bundle.initialize()
print(json.dumps({p.name: p.stat().st_mtime for p in bundle.path.iterdir()}))
"""


@pytest.mark.slow
def test_a_new_version_stamps_the_files_it_changes_so_the_dag_processor_parses_them_at_once(s3, tmp_path):
    """An archive's files carry mtime 0; the dag-processor parses a file before its min_file_process_interval only
    when its mtime is newer than its last parse (prepare_file_queue, modified_time): the refresh stamps the changed
    and new files with the time of the swap and leaves the unchanged ones at 0."""
    client, endpoint = s3
    storage = tmp_path / "bundles"
    steady = GOOD.replace("s3_probe", "s3_steady")
    push(_folder(tmp_path, "a", {"probe.py": GOOD.format(code="a"), "steady.py": steady}), client, BUCKET, PREFIX)
    _airflow(MTIMES, endpoint, storage)
    files = {"probe.py": GOOD.format(code="b"), "steady.py": steady, "added.py": GOOD.replace("s3_probe", "s3_added")}
    push(_folder(tmp_path, "b", files), client, BUCKET, PREFIX)
    before = time.time()
    mtimes = _airflow(MTIMES, endpoint, storage)
    after = time.time()
    assert mtimes["steady.py"] == 0
    for name in ("probe.py", "added.py"):  # the time of the swap, STALE_PARSE_MARGIN ahead
        assert before + STALE_PARSE_MARGIN - 1 <= mtimes[name] <= after + STALE_PARSE_MARGIN, name


PARSE_ENDING_AFTER_THE_SWAP = """
import datetime, json, os
import boto3
from airflow import settings
from airflow.models import import_all_models
import_all_models()
from airflow.models.base import Base
from airflow.dag_processing.manager import DagFileProcessorManager, DagFileStat
from airflow.sdk import timezone

Base.metadata.create_all(settings.engine)
manager = DagFileProcessorManager(max_runs=-1)
manager.prepare_bundles()
known = {{}}
manager._refresh_dag_bundles(known_files=known)  # version a
for file in known["dags"]:  # each file just parsed
    manager._file_stats[file] = DagFileStat(last_finish_time=timezone.utcnow(), run_count=1)
s3 = boto3.client("s3", endpoint_url={endpoint!r}, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
s3.put_object(Bucket={bucket!r}, Key={pointer!r}, Body={version!r}.encode())  # `dags push` of version b
swapped = timezone.utcnow()
manager.request_bundle_refresh("dags")
known = {{}}
manager._refresh_dag_bundles(known_files=known)
probe = next(f for f in known["dags"] if f.rel_path.name == "probe.py")
# The parse of probe.py that began before the refresh ends a second after the swap.
manager._file_stats[probe] = DagFileStat(last_finish_time=swapped + datetime.timedelta(seconds=1), run_count=2)
_, changed = manager._sort_by_mtime(known["dags"])
ours = sorted(f.rel_path.name for f in changed)
os.utime(probe.absolute_path, (swapped.timestamp(), swapped.timestamp()))  # an mtime at the swap itself
_, changed = manager._sort_by_mtime(known["dags"])
print(json.dumps({{"ours": ours, "at_the_swap": sorted(f.rel_path.name for f in changed),
                  "version": manager._bundle_versions["dags"]}}))
"""


@pytest.mark.slow
def test_a_parse_of_the_old_file_ending_after_the_swap_does_not_make_the_new_one_wait(s3, tmp_path):
    """The dag-processor's own rule (`_sort_by_mtime`, in its `modified_time` mode): a file is parsed again at once
    when its mtime is newer than its last parse's end. A parse of the old file that was running during the refresh
    ends after the swap; with the mtime at the swap the new code then waited for the file's next periodic parse,
    with STALE_PARSE_MARGIN it is parsed at the manager's next pass."""
    client, endpoint = s3
    storage = tmp_path / "bundles"
    steady = GOOD.replace("s3_probe", "s3_steady")
    files = {"probe.py": GOOD.format(code="b"), "steady.py": steady}
    b, _ = push(_folder(tmp_path, "b", files), client, BUCKET, PREFIX)
    push(_folder(tmp_path, "a", {"probe.py": GOOD.format(code="a"), "steady.py": steady}), client, BUCKET, PREFIX)
    pointer = pointer_key(PREFIX)
    probe = PARSE_ENDING_AFTER_THE_SWAP.format(endpoint=endpoint, bucket=BUCKET, pointer=pointer, version=b)
    result = _airflow(probe, endpoint, storage)
    assert result == {"ours": ["probe.py"], "at_the_swap": [], "version": b}
