"""`local trigger` against a stand-in for the REST API: what it sends, and what --wait prints (no cluster)."""

import io
from datetime import UTC, datetime

import pytest

from airflow_celery.console import cli_console
from airflow_celery.local import trigger
from airflow_celery.local.api import TaskTimes
from airflow_celery.local.trigger_options import trigger_options

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


class FakeApi:
    def __init__(self, partitioned=False, state="failed"):
        self.partitioned, self.state, self.sent = partitioned, state, None

    def wait_for_dag(self, dag_id):
        return {"dag_id": dag_id, "timetable_partitioned": self.partitioned}

    def trigger(self, dag_id, logical_date=None, conf=None, run_id=None):
        self.sent = {"logical_date": logical_date, "conf": conf, "run_id": run_id}
        return run_id or "manual__x", T0

    def run(self, dag_id, run_id):
        return {"state": self.state, "end_date": "2026-12-06T03:00:05+00:00"}

    def task_instances(self, dag_id, run_id):
        return [TaskTimes("ok", "success", T0, T0), TaskTimes("bad", self.state, T0, T0, try_number=1)]

    def task_log(self, dag_id, run_id, task_id, try_number, map_index=-1, token=None):
        return [{"event": f"{task_id} line {i}"} for i in range(25)], None

    def close(self):
        pass


def run(monkeypatch, api, *options):
    monkeypatch.setattr(trigger, "api_for", lambda state_dir: api)
    out = io.StringIO()
    result = trigger.trigger_dag(
        trigger.Path("/s"), "d", True, 5, cli_console(file=out), trigger_options(*options) if options else None
    )
    return result, out.getvalue()


@pytest.mark.parametrize(("partitioned", "expect_date"), [(False, True), (True, False)])
def test_default_sends_the_ui_forms_logical_date(monkeypatch, partitioned, expect_date):
    api = FakeApi(partitioned, state="success")
    before = datetime.now(UTC).replace(microsecond=0)
    run(monkeypatch, api)
    sent = api.sent["logical_date"]
    if expect_date:
        assert sent.microsecond == 0 and before <= sent <= datetime.now(UTC)
    else:
        assert sent is None
    assert api.sent["conf"] == {} and api.sent["run_id"] is None


def test_options_are_sent_as_given(monkeypatch):
    api = FakeApi(state="success")
    run(monkeypatch, api, "2026-01-02T03:04:05+01:00", '{"x": 1}', None, "r1")
    assert api.sent == {"logical_date": datetime.fromisoformat("2026-01-02T03:04:05+01:00"), "conf": {"x": 1},
                        "run_id": "r1"}  # fmt: skip


def test_wait_prints_the_failed_tasks_log_tail_and_where_the_whole_log_is(monkeypatch):
    result, printed = run(monkeypatch, FakeApi(state="failed"))
    assert result.state == "failed"
    assert "===== bad (failed), try 1: last 20 lines of its log =====" in printed
    assert "bad line 24" in printed and "bad line 4\n" not in printed
    assert "ok line" not in printed
    assert "Whole logs: `airflow-celery local logs d manual__x --state-dir /s`" in printed
