"""One `local up` at a time per state dir: an exclusive flock on a file inside it.

Two `up` runs on one state dir would both pass the preflight (no supervisord answers yet), then fight over
secrets.json, pgdata and supervisord's socket. The lock is an open file description's `flock`: the kernel drops
it when the holder exits, however it exits, so a crashed `up` never leaves a stale lock behind. The holder's
pid is written into the file, only to name it in the second run's error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from airflow_celery.local.errors import LocalError

LOCK_NAME = "up.lock"


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text().strip())
        return f" (pid {pid})"
    return ""


@contextlib.contextmanager
def state_dir_lock(root: Path) -> Iterator[None]:
    """Hold the state dir's lock for the block, or fail at once with a LocalError naming the holder.

    A state dir that the lock itself created and that holds nothing else when the block ends (an `up` that
    failed its preflight) is removed again, so no marker-less directory is left for `down --purge` to refuse.
    """
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    # Not inherited by supervisord or any program (Python's fds are non-inheritable): released when `up` ends.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalError(
                f"another `airflow-celery local up` is running on {root}{_holder(path)}; wait for it to finish "
                f"(then see `airflow-celery local status --state-dir {root}`), or give this one another --state-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
        if created and {entry.name for entry in root.iterdir()} <= {LOCK_NAME}:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                root.rmdir()
