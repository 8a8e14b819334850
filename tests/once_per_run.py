"""A session fixture's value computed once per test run, not once in each xdist process.

Under `make unit` and `make test`, four processes each built the dev, prod and variant clusters and planned the dev
and prod stacks for their own session fixtures (tests/aws/conftest.py, tests/plan/conftest.py): up to four times
the same 0.3-0.8 CPU s each. The first process to ask now computes the value and leaves it, pickled, in the run's
base temp dir, which the processes of one run share and no other run sees (theirs are `popen-gwN` in it, as
tests/local/cluster_support.py uses it); the others wait for it on a lock and read it (a few milliseconds). Without
xdist the value is computed as before. A value that fails to compute is not left: the next process tries again
and fails the same way.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from typing import TypeVar

Value = TypeVar("Value")


def once_per_run(tmp_path_factory, key: str, compute: Callable[[], Value]) -> Value:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return compute()
    shared = tmp_path_factory.getbasetemp().parent
    stored = shared / f"once-{key}.pickle"
    with (shared / f"once-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stored.exists():
            return pickle.loads(stored.read_bytes())
        value = compute()
        stored.write_bytes(pickle.dumps(value))
        return value
