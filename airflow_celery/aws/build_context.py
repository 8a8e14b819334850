"""The image's build context, assembled from what the provider carries, wherever the program runs.

Pulumi runs a component provider in the consuming program's directory, so a relative "." was the caller's folder,
and the Dockerfile also copies the entrypoint's part of this package, which a caller's folder does not hold. The
context is therefore staged: `image/` and `dags/` from the project (build_context, else the project this package
was loaded from: the checkout the provider plugin runs from), and the package files from the package itself.
The staging directory is named by the hash of its content, so an unchanged project gives the same path (no image
diff on the next `pulumi up`) and any change a new one (a rebuild).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import airflow_celery

PACKAGE_DIR = Path(airflow_celery.__file__).resolve().parent
PACKAGE_PROJECT = PACKAGE_DIR.parent
"""The project the package was loaded from: a checkout's root, holding image/ and dags/ beside the package."""
PACKAGE_FILES = (
    "__init__.py",
    "entrypoint",
    "cluster",
    "autoscaler",
    "watchdog",
    "worker",
    "scheduler",
    "flower.py",
    "bundles",
    "api_server",
)
"""What image/Dockerfile copies of the package: the entrypoint, the standard-library cluster description, the
sidecars, worker and scheduler hooks and Flower that roles run, and the api-server's auth manager
(tests/image/test_dockerfile.py checks every module a role runs is there)."""
PROJECT_DIRS = ("image", "dags")
STAGING_ROOT = Path(tempfile.gettempdir()) / "airflow-celery-build"
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass(frozen=True)
class Sources:
    """Where each part of the context comes from."""

    image: Path
    dags: Path
    package: Path = PACKAGE_DIR


def project_dir(build_context: str | None) -> Path:
    """build_context (relative to the program's directory), or the project this package came from."""
    return Path(build_context).expanduser().resolve() if build_context else PACKAGE_PROJECT


def sources(build_context: str | None) -> Sources:
    """dags/ from the project; image/ from the project when it has one, else the package's project."""
    project = project_dir(build_context)
    image = project / "image" if (project / "image").is_dir() else PACKAGE_PROJECT / "image"
    return Sources(image=image, dags=project / "dags")


def missing(found: Sources, dockerfile: str) -> list[str]:
    """What the context lacks, as paths a user can look for (empty when the image can be built). The Dockerfile
    must live in image/, the only directory of the project besides dags/ that is staged."""
    lacking = [str(path) for path in (found.dags,) if not path.is_dir()]
    if Path(dockerfile).is_absolute() or Path(dockerfile).parts[:1] != ("image",) or ".." in Path(dockerfile).parts:
        return [*lacking, f"{dockerfile} (a path under image/)"]
    dockerfile_path = found.image.parent / dockerfile
    if not dockerfile_path.is_file():
        lacking.append(str(dockerfile_path))
    return lacking


def _files(found: Sources) -> list[tuple[str, Path]]:
    """(path in the context, source file) for every file, sorted: the content the hash covers."""
    roots = [("image", found.image), ("dags", found.dags)]
    roots += [(f"airflow_celery/{name}", found.package / name) for name in PACKAGE_FILES]
    pairs = []
    for target, source in roots:
        if source.is_file():
            pairs.append((target, source))
            continue
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                pairs.append((f"{target}/{path.relative_to(source).as_posix()}", path))
    return sorted(pairs)


def content_hash(found: Sources) -> str:
    digest = hashlib.sha256()
    for target, source in _files(found):
        digest.update(target.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()[:20]


def stage(found: Sources, root: Path = STAGING_ROOT) -> Path:
    """The assembled context under `root`, named by its content hash; made once, then reused."""
    target = root / content_hash(found)
    if target.is_dir():
        return target
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=_mkdir(root)))
    for relative, source in _files(found):
        destination = partial / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    try:
        partial.rename(target)
    except OSError:  # another program staged the same content first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
