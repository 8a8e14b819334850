"""The files a new bundle version changes get an mtime ahead of the refresh that brought them in.

The dag-processor parses a file before `[dag_processor] min_file_process_interval` (30 s) only when its mtime is
newer than its last parse's end (`prepare_file_queue` and `_sort_by_mtime` in dag_processing/manager.py, with the
`modified_time` sort mode our dag-processor sets). A parse of the old file still running when a refresh swaps in a
new version ends after the swap, and Airflow records that end as the file's last parse, and labels its result,
read from the old file, with the new version (`persist_parsing_result(bundle_version=self._bundle_versions[...])`).
With the mtime at the swap, the file then counted as parsed: the new code waited for the file's next periodic
parse, and new runs meanwhile got the old serialized DAG with the new code (README, "A race in Airflow 3.3.2 around
a push or commit"). With the mtime ahead of any parse that was running, the manager's next pass parses the file
again. The cost: it parses a changed file again each time its queue runs empty until the clock reaches that
mtime, back to back while nothing else is due: 51 parses of a one-file git bundle's file in the 5 s after a commit
(one every 0.1 s; 97 in 10 s at a 10 s margin), measured on a local cluster on 2026-12-07.

No Airflow import: both bundles (bundles/s3.py, bundles/git.py) use it, and it is tested alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

STALE_PARSE_MARGIN = 5.0
"""Seconds ahead of the refresh that a changed file's mtime is set: longer than a parse of the old file that was
running at the refresh takes to end (a parse took 0.1-1.1 s here; a 1 s one is the case tested), and short, since
the file is parsed back to back until then (module docstring)."""


def stamp_ahead(paths: Iterable[Path], margin: float = STALE_PARSE_MARGIN) -> list[Path]:
    """Set each path's atime and mtime `margin` seconds from now; the paths, sorted."""
    stamp = time.time() + margin
    stamped = sorted(paths)
    for path in stamped:
        os.utime(path, (stamp, stamp))
    return stamped
