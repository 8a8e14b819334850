"""`airflow-celery dags push`: validate a DAG folder with Airflow, then publish it as one versioned archive.

Validation parses the folder with the same pinned Airflow the image runs (image/requirements.txt equals the
`local` extra, tests/image/test_dockerfile.py) in a fresh process, the way the dag-processor does (DagBag), and
refuses any import error, naming the file and the line. Nothing is uploaded unless every file imports.

Publishing is two writes (their keys: airflow_celery/bundles/layout.py): the archive under its content hash,
which is never overwritten, then the `current` pointer. New runs use the pushed version once the dag-processor's
next refresh has parsed it; runs already started keep theirs. This module imports no Airflow itself.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from airflow_celery.bundles.layout import archive_key, pointer_key

SKIPPED_PARTS = ("__pycache__", ".git", ".venv")
VALIDATE_TIMEOUT = 300


class PushError(RuntimeError):
    """Nothing was uploaded; the message says why."""


@dataclass(frozen=True)
class ImportProblem:
    file: str
    """Relative to the pushed folder."""
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part in SKIPPED_PARTS or part.endswith(".pyc") for part in p.relative_to(folder).parts)
    )


def build_archive(folder: Path) -> tuple[bytes, str]:
    """A reproducible tar.gz of `folder` (sorted names, no times, owners or modes of this machine) and its sha256:
    the same files always give the same version."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in _files(folder):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    body = raw.getvalue()
    return body, hashlib.sha256(body).hexdigest()


_PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from pathlib import Path
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False, bundle_path=Path(sys.argv[1]))
print(json.dumps({"errors": bag.import_errors, "dags": sorted(bag.dag_ids)}))
"""


def validate(folder: Path) -> tuple[list[ImportProblem], list[str]]:
    """Parse `folder` as the dag-processor would: its import errors (file, line, last message) and its DAG ids."""
    folder = folder.absolute()
    with tempfile.TemporaryDirectory(prefix="dags-validate-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env |= {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        }
        result = subprocess.run(
            [sys.executable, "-c", _PARSE, str(folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=VALIDATE_TIMEOUT,
            check=False,
        )
    if result.returncode != 0:
        raise PushError(f"Airflow could not parse {folder}: {result.stderr.strip().splitlines()[-1:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    problems = [_problem(folder, Path(file), trace) for file, trace in sorted(report["errors"].items())]
    return problems, report["dags"]


def _problem(folder: Path, file: Path, trace: str) -> ImportProblem:
    """An import error keyed by its path relative to the folder (DagBag with bundle_path), and its traceback."""
    relative = file.as_posix()
    file = folder / file
    lines = [int(n) for n in re.findall(rf'File "{re.escape(str(file))}", line (\d+)', trace)]
    message = next((line.strip() for line in reversed(trace.strip().splitlines()) if line.strip()), "import error")
    return ImportProblem(relative, lines[-1] if lines else None, message)


def push(folder: Path, client, bucket: str, prefix: str) -> tuple[str, list[str]]:
    """Validate, then upload the archive (unless that version is already there) and move `current` to it.
    Returns the version and the DAG ids in it; raises PushError, having uploaded nothing, on any import error."""
    if not folder.is_dir():
        raise PushError(f"{folder} is not a folder of DAG files")
    problems, dags = validate(folder)
    if problems:
        listed = "\n".join(f"  {p}" for p in problems)
        raise PushError(f"{len(problems)} file(s) do not import; nothing was uploaded:\n{listed}")
    body, version = build_archive(folder)
    key = archive_key(prefix, version)
    try:
        client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
    client.put_object(Bucket=bucket, Key=pointer_key(prefix), Body=version.encode(), ContentType="text/plain")
    return version, dags
