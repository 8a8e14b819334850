"""The options of `local trigger`, checked before any request: each bad value gets one error that says what to do.

The default logical date is the one Airflow's own UI trigger form sends. In the pinned UI
(airflow/ui/dist/assets/index-*.js, the trigger form `UFt`), the form's default is
`logicalDate: isPartitioned ? "" : dayjs().format("YYYY-MM-DD HH:mm:ss")`, submitted as
`logical_date: new Date(logicalDate).toISOString() ?? null`: the current time to the second, or null for a DAG
whose timetable is partitioned (`timetable_partitioned` of `GET /api/v2/dags/{dag_id}`). The API then infers
the data interval from it (`TriggerDAGRunPostBody.validate_context`, api_fastapi/core_api/datamodels/dag_run.py).
A run with no logical date renders no `ds`/`logical_date`, which is why the tutorial's templates fail without it.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from airflow_celery.local.errors import LocalError

ALLOWED_RUN_ID_PATTERN = r"^[A-Za-z0-9_.~:+-]+$"
"""Airflow's `[scheduler] allowed_run_id_pattern` default (config_templates/config.yml); the local cluster keeps it.
`DagRun.validate_run_id` (models/dagrun.py) also refuses `..` in a run id."""


class LogicalDateMode(enum.Enum):
    UI = "ui"
    """Like the UI form: now to the second, or none for a partitioned DAG (decided once the DAG is known)."""
    NOW = "now"
    NONE = "none"
    GIVEN = "given"


@dataclass(frozen=True)
class LogicalDate:
    mode: LogicalDateMode
    value: datetime | None = None

    def resolve(self, partitioned: bool, now: datetime | None = None) -> datetime | None:
        """The date to send: `now` is read at trigger time, as the UI form reads it when it opens."""
        now = now or datetime.now(UTC)
        if self.mode is LogicalDateMode.GIVEN:
            return self.value
        if self.mode is LogicalDateMode.NONE or (self.mode is LogicalDateMode.UI and partitioned):
            return None
        if self.mode is LogicalDateMode.UI:
            return now.replace(microsecond=0)
        return now


@dataclass(frozen=True)
class TriggerOptions:
    logical_date: LogicalDate = field(default_factory=lambda: LogicalDate(LogicalDateMode.UI))
    conf: dict = field(default_factory=dict)
    run_id: str | None = None


def parse_logical_date(text: str | None) -> LogicalDate:
    if text is None:
        return LogicalDate(LogicalDateMode.UI)
    lowered = text.strip().lower()
    if lowered in ("now", "none"):
        return LogicalDate(LogicalDateMode(lowered))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LocalError(
            f"--logical-date {text!r} is not a date: give an ISO 8601 date and time with a time zone "
            "(e.g. 2026-12-06T10:00:00+00:00 or 2026-12-06T10:00:00Z), `now`, or `none`"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise LocalError(
            f"--logical-date {text!r} has no time zone, and Airflow's API refuses a naive date (logical_date is an "
            f"AwareDatetime): add one, e.g. {value.isoformat()}+00:00 or {value.isoformat()}Z"
        )
    return LogicalDate(LogicalDateMode.GIVEN, value)


def parse_conf(text: str, source: str = "--conf") -> dict:
    """A JSON object; a syntax error names its line, column and character position."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LocalError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno} "
            f"(character {error.pos}). Pass a JSON object, e.g. --conf '{{\"x\": 1}}' (single quotes around it in a "
            "shell), or put it in a file and use --conf-file"
        ) from None
    if not isinstance(value, dict):
        raise LocalError(
            f"{source} is JSON but a {type(value).__name__}, not an object: Airflow's conf is a JSON object whose "
            'keys are the params, e.g. {"x": 1}'
        )
    return value


def read_conf(conf: str | None, conf_file: Path | None) -> dict:
    if conf is not None and conf_file is not None:
        raise LocalError("give either --conf or --conf-file, not both")
    if conf_file is not None:
        try:
            text = conf_file.read_text()
        except OSError as error:
            raise LocalError(f"--conf-file {conf_file}: cannot read it ({error.strerror}); check the path") from None
        return parse_conf(text, f"--conf-file {conf_file}")
    return parse_conf(conf) if conf is not None else {}


def check_run_id(run_id: str | None) -> str | None:
    if run_id is None:
        return None
    if ".." in run_id or not re.match(ALLOWED_RUN_ID_PATTERN, run_id):
        raise LocalError(
            f"--run-id {run_id!r} is not allowed: Airflow accepts letters, digits and _ . ~ : + - "
            f"({ALLOWED_RUN_ID_PATTERN}, [scheduler] allowed_run_id_pattern) and no '..'; pick another"
        )
    return run_id


def trigger_options(logical_date: str | None, conf: str | None, conf_file: Path | None, run_id: str | None):
    """All options checked, in the order they appear on the command line."""
    return TriggerOptions(parse_logical_date(logical_date), read_conf(conf, conf_file), check_run_id(run_id))
