"""What a failed integration test shows of its cluster: the warnings and errors its programs and tasks logged while
it ran. The fixtures end with `local down --purge`, so without this a CI failure leaves only its assertion (the
outage test's one task failed after 3 tries, 2026-12-07, and nothing said which process failed it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

NOTEWORTHY = re.compile(
    r"warn|error|exception|traceback|fail|lost|retry|killed|terminat|executor report|sigterm|sigkill", re.IGNORECASE
)
NOISE = re.compile(r"Starting call to '|SecurityWarning|DeprecationWarning")
"""Warnings that flood a log without saying what happened: the task SDK's one line per retried API call (hundreds
in an api-server outage), Celery's root warning, deprecations."""
LINES_PER_FILE = 40
MAX_LINE = 400
SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+")


def noteworthy_lines(path: Path, since: float, limit: int = LINES_PER_FILE) -> list[str]:
    """The last `limit` lines of `path` that look like a warning, an error or a task's end, if it was written to at
    or after `since` (a time.time())."""
    try:
        if path.stat().st_mtime < since:
            return []
        text = path.read_text(errors="replace")
    except OSError:
        return []
    lines = [line[:MAX_LINE] for line in text.splitlines() if NOTEWORTHY.search(line) and not NOISE.search(line)]
    return collapse_repeats(lines)[-limit:]


def collapse_repeats(lines: list[str]) -> list[str]:
    """Lines that differ only in numbers and ids (a failed heartbeat per task every few seconds) as their last
    occurrence with a count, in the order of their last occurrences."""
    last: dict[str, tuple[int, str, int]] = {}
    for index, line in enumerate(lines):
        shape = SHAPE.sub("#", line)
        count = last[shape][2] + 1 if shape in last else 1
        last[shape] = (index, line, count)
    return [line + (f"  [x{count}]" if count > 1 else "") for _, line, count in sorted(last.values())]


def cluster_log_excerpts(state_dir: Path, since: float) -> str:
    """One block per log file written since `since`: the programs' logs (logs/*.log) and Airflow's task logs
    (airflow/logs/**/*.log), each cut to its noteworthy lines."""
    files = sorted((state_dir / "logs").glob("*.log")) + sorted((state_dir / "airflow" / "logs").rglob("*.log"))
    blocks = []
    for path in files:
        lines = noteworthy_lines(path, since)
        if lines:
            blocks.append(f"--- {path.relative_to(state_dir)}\n" + "\n".join(lines))
    return "\n".join(blocks) or f"no warning or error in {state_dir} since the test started"


def keep_logs(state_dir: Path, test_name: str) -> Path:
    """A copy of the cluster's logs beside its state directory, which `down --purge` removes and pytest's base
    temp dir keeps (its last 3 runs): the whole story, where the report has only excerpts."""
    kept = state_dir.parent / f"logs-of-{test_name}"
    shutil.copytree(state_dir / "logs", kept / "logs", dirs_exist_ok=True)
    if (state_dir / "airflow" / "logs").is_dir():
        shutil.copytree(state_dir / "airflow" / "logs", kept / "task-logs", dirs_exist_ok=True)
    return kept
