"""`local trigger`'s options, checked before any request (no cluster)."""

import importlib.util
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from airflow_celery.local.errors import LocalError
from airflow_celery.local.trigger_options import (
    ALLOWED_RUN_ID_PATTERN,
    LogicalDate,
    LogicalDateMode,
    parse_conf,
    parse_logical_date,
    read_conf,
    trigger_options,
)

AIRFLOW = Path(importlib.util.find_spec("airflow").submodule_search_locations[0])  # read, not imported
NOW = datetime(2026, 12, 6, 3, 45, 12, 345678, tzinfo=UTC)


def test_default_is_the_ui_forms_now_to_the_second_and_none_when_partitioned():
    default = parse_logical_date(None)
    assert default.mode is LogicalDateMode.UI
    assert default.resolve(partitioned=False, now=NOW) == NOW.replace(microsecond=0)
    assert default.resolve(partitioned=True, now=NOW) is None


def test_the_ui_form_sends_now_to_the_second_unless_partitioned():
    """The pinned UI's trigger form (compiled, airflow/ui/dist/assets/index-*.js): its default logicalDate is
    `isPartitioned ? "" : dayjs().format("YYYY-MM-DD HH:mm:ss")`, sent as `new Date(d).toISOString() ?? null`."""
    bundle = "".join(path.read_text(errors="replace") for path in (AIRFLOW / "ui/dist/assets").glob("index-*.js"))
    default = re.search(r"logicalDate:(\w+)\?``:\(0,\w+\.default\)\(\)\.format\((\w+)\)", bundle)
    assert default, "the trigger form's default logicalDate changed: read it again and update trigger_options.py"
    assert f"{default.group(2)}=`YYYY-MM-DD HH:mm:ss`" in bundle  # seconds, no fraction
    assert re.search(r"isPartitioned:" + default.group(1) + r"\b", bundle)
    assert "logical_date:r?.toISOString()??null" in bundle or "logical_date:r" in bundle


def test_now_none_and_iso_dates():
    assert parse_logical_date("now").resolve(False, NOW) == NOW
    assert parse_logical_date("NONE").resolve(False, NOW) is None
    given = parse_logical_date("2026-12-06T10:00:00Z")
    assert given == LogicalDate(LogicalDateMode.GIVEN, datetime(2026, 12, 6, 10, tzinfo=UTC))
    assert parse_logical_date("2026-12-06T10:00:00+02:00").value.utcoffset() == timedelta(hours=2)
    assert given.resolve(True, NOW).tzinfo == UTC
    assert parse_logical_date("2026-12-06 10:00+01:00").value.tzinfo == timezone(timedelta(hours=1))


def test_a_date_without_time_zone_is_refused_with_the_fix():
    with pytest.raises(LocalError, match=r"has no time zone.*2026-12-06T10:00:00\+00:00"):
        parse_logical_date("2026-12-06T10:00:00")


def test_not_a_date_says_what_is_allowed():
    with pytest.raises(LocalError, match=r"'yesterday' is not a date.*ISO 8601.*`now`, or `none`"):
        parse_logical_date("yesterday")


def test_bad_json_names_line_column_and_position():
    with pytest.raises(LocalError) as error:
        parse_conf('{"x": 1,\n "y": }')
    assert "at line 2, column 7 (character 15)" in str(error.value)
    assert "--conf-file" in str(error.value)


def test_conf_must_be_an_object():
    with pytest.raises(LocalError, match="JSON but a list, not an object"):
        parse_conf("[1, 2]")
    assert parse_conf('{"x": "a"}') == {"x": "a"}


def test_conf_file_is_read_and_its_errors_name_the_file(tmp_path):
    good = tmp_path / "conf.json"
    good.write_text('{"x": 42}')
    assert read_conf(None, good) == {"x": 42}
    bad = tmp_path / "bad.json"
    bad.write_text("{\n\n  x: 1}")
    with pytest.raises(LocalError, match=rf"--conf-file {bad} is not valid JSON: .* at line 3, column 3"):
        read_conf(None, bad)
    with pytest.raises(LocalError, match="cannot read it"):
        read_conf(None, tmp_path / "missing.json")
    with pytest.raises(LocalError, match="either --conf or --conf-file"):
        read_conf("{}", good)


@pytest.mark.parametrize("run_id", ["nightly_2026-12-06", "manual__2026-12-06T10:00:00+00:00", "a.b~c"])
def test_run_ids_airflow_allows(run_id):
    assert trigger_options(None, None, None, run_id).run_id == run_id


@pytest.mark.parametrize("run_id", ["has space", "a/b", "up..there", ""])
def test_run_ids_airflow_refuses(run_id):
    with pytest.raises(LocalError, match="is not allowed: Airflow accepts"):
        trigger_options(None, None, None, run_id)


def test_run_id_rule_is_airflows_default():
    """models/dagrun.py DagRun.validate_run_id matches `[scheduler] allowed_run_id_pattern` (and refuses '..');
    its default is in config_templates/config.yml."""
    config = yaml.safe_load((AIRFLOW / "config_templates/config.yml").read_text())
    assert config["scheduler"]["options"]["allowed_run_id_pattern"]["default"] == ALLOWED_RUN_ID_PATTERN
    source = (AIRFLOW / "models/dagrun.py").read_text()
    assert 'if ".." in run_id' in source


@pytest.mark.airflow
def test_airflows_api_refuses_a_naive_logical_date_and_takes_what_we_send():
    """TriggerDAGRunPostBody.logical_date is an AwareDatetime (api_fastapi/core_api/datamodels/dag_run.py)."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="timezone"):
        TriggerDAGRunPostBody(logical_date="2026-12-06T10:00:00")
    sent = parse_logical_date(None).resolve(False, NOW).isoformat()
    body = TriggerDAGRunPostBody(logical_date=sent, conf={"x": 1}, dag_run_id="nightly")
    assert body.logical_date == NOW.replace(microsecond=0)
