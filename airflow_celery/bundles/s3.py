"""A versioned S3 DAG bundle: immutable archives named by their content hash, and one `current` pointer.

Why not the amazon provider's S3DagBundle: in the pinned provider (9.39.0) it has `supports_versioning = False`
and syncs the live prefix into one folder, so a run that spans an upload mixes old and new files, and a worker
cannot fetch the code a run started with. Why not S3 object versions: a bundle version would be the set of every
file's VersionId at one moment, which needs a manifest anyway, a bucket with versioning on (a given bucket may
not have it) and lifecycle rules that never expire a version an old run may still need (the open upstream
proposal, apache/airflow#72228, takes that road for Airflow 3.4 with a manifest and a pointer). An archive per
version needs none of that: `airflow-celery dags push` uploads `<prefix>versions/<sha256>.tar.gz` (never
overwritten: the same content is the same name) and then rewrites `<prefix>current` with that hash, the one write
that releases it. The dag-processor reads the pointer every refresh interval; a worker downloads exactly the
archive of its run's version, checks its hash, and unpacks it once.

It reads S3 through the amazon provider's S3Hook, so the usual Airflow AWS connection (`aws_conn_id`) applies:
the task role on ECS, an endpoint URL for an S3-compatible server locally.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

from airflow.dag_processing.bundles.base import BaseDagBundle

from airflow_celery.bundles.freshness import STALE_PARSE_MARGIN, stamp_ahead
from airflow_celery.bundles.layout import VERSION, archive_key, pointer_key


def stamp_changed_files(new: Path, old: Path, margin: float = STALE_PARSE_MARGIN) -> list[Path]:
    """Stamp each file of `new` that is not in `old` byte for byte `margin` seconds ahead (bundles/freshness.py);
    those files.

    An archive's files all carry mtime 0 (reproducible archives, push.py), so without a stamp the files a version
    changes would wait for their periodic parse; the unchanged ones keep 0 and their usual interval, as after a
    git refresh."""
    changed = []
    for path in sorted(p for p in new.rglob("*") if p.is_file()):
        before = old / path.relative_to(new)
        if not before.is_file() or before.read_bytes() != path.read_bytes():
            changed.append(path)
    return stamp_ahead(changed, margin)


class BundleError(RuntimeError):
    """The bucket does not hold what a version needs (no pointer yet, a missing or altered archive)."""


class VersionedS3DagBundle(BaseDagBundle):
    """DAGs from `s3://bucket_name/prefix`, one version per pushed archive (see the module's docstring)."""

    supports_versioning = True

    def __init__(self, *, bucket_name: str, prefix: str = "dags/", aws_conn_id: str = "aws_default", **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.prefix = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
        self.aws_conn_id = aws_conn_id
        self._tracking = self.base_dir / "tracking"
        self._tracking_version = self.base_dir / "tracking.version"

    @property
    def path(self) -> Path:
        return self.versions_dir / self.version if self.version else self._tracking

    def initialize(self) -> None:
        with self.lock():
            if self.version:
                self._ensure_version(self.version)
            else:
                self._refresh()
        super().initialize()

    def refresh(self) -> None:
        if self.version:
            raise BundleError("a bundle at a fixed version is never refreshed")
        with self.lock():
            self._refresh()

    def get_current_version(self) -> str | None:
        if self.version:
            return self.version
        return self._tracking_version.read_text().strip() if self._tracking_version.exists() else None

    def view_url_template(self) -> str | None:
        return None

    def _client(self):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    def _refresh(self) -> None:
        """Point the tracking folder at the version `current` names, unpacking it beside and swapping it in."""
        client = self._client()
        try:
            body = client.get_object(Bucket=self.bucket_name, Key=pointer_key(self.prefix))["Body"].read()
        except client.exceptions.NoSuchKey:
            raise BundleError(
                f"s3://{self.bucket_name}/{pointer_key(self.prefix)} does not exist: push a version first "
                "(airflow-celery dags push)"
            ) from None
        version = body.decode().strip()
        if version == self.get_current_version() and self._tracking.is_dir():
            return
        staged = self._unpack(client, version, self.base_dir / f".staging-{version}")
        # No parse of an old file can be running before the first version is unpacked: no stamp ahead then, or
        # every file of the bundle would be parsed once a pass for STALE_PARSE_MARGIN at each start.
        stamp_changed_files(staged, self._tracking, STALE_PARSE_MARGIN if self._tracking.is_dir() else 0.0)
        retired = self.base_dir / ".tracking-retired"
        shutil.rmtree(retired, ignore_errors=True)
        if self._tracking.exists():
            os.rename(self._tracking, retired)
        os.rename(staged, self._tracking)
        self._tracking_version.write_text(version)
        shutil.rmtree(retired, ignore_errors=True)

    def _ensure_version(self, version: str) -> None:
        target = self.versions_dir / version
        if target.is_dir():
            return
        staged = self._unpack(self._client(), version, self.versions_dir / f".staging-{version}")
        os.rename(staged, target)

    def _unpack(self, client, version: str, staging: Path) -> Path:
        if not VERSION.fullmatch(version):
            raise BundleError(f"{version!r} is not a bundle version (the sha256 of an archive)")
        key = archive_key(self.prefix, version)
        try:
            body = client.get_object(Bucket=self.bucket_name, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            raise BundleError(f"s3://{self.bucket_name}/{key} does not exist") from None
        if hashlib.sha256(body).hexdigest() != version:
            raise BundleError(f"s3://{self.bucket_name}/{key} does not match its name: it was altered")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(staging, filter="data")  # no absolute paths, no links out, no devices
        return staging
