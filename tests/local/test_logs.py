"""`local logs` and `trigger --wait`'s log tails, against a stand-in for the REST API (no cluster)."""

from datetime import UTC, datetime

import pytest

from airflow_celery.local.api import TaskTimes
from airflow_celery.local.errors import LocalError
from airflow_celery.local.logs import LogRequest, failed_task_tails, format_message, pick_tasks, show_logs

T0 = datetime(2026, 12, 6, tzinfo=UTC)


def task(task_id, state, tries=1, map_index=-1):
    return TaskTimes(task_id, state, T0, T0, try_number=tries, map_index=map_index)


class FakeApi:
    """Serves task logs in chunks as the api-server does: each chunk with the token for the next, None at the end."""

    def __init__(self, tasks, logs, runs=("manual__1",)):
        self.tasks, self.logs, self.runs, self.calls = tasks, logs, list(runs), []

    def latest_run(self, dag_id):
        return {"dag_run_id": self.runs[-1]} if self.runs else None

    def task_instances(self, dag_id, run_id):
        return self.tasks

    def task_log(self, dag_id, run_id, task_id, try_number, map_index=-1, token=None):
        self.calls.append((run_id, task_id, try_number, map_index, token))
        chunks = self.logs[(task_id, try_number, map_index)]
        index = int(token or 0)
        return chunks[index], (str(index + 1) if index + 1 < len(chunks) else None)


def test_structured_messages_read_like_the_ui():
    message = {
        "timestamp": "2026-12-06T03:00:00Z",
        "level": "error",
        "logger": "task",
        "event": "Task failed with exception",
        "ti_id": "abc",
        "dag_id": "d",
        "attempt": 2,
        "error_detail": [
            {"exc_type": "ValueError", "exc_value": "boom", "frames": [{"filename": "d.py", "lineno": 3, "name": "f"}]}
        ],
    }
    assert format_message(message) == [
        "2026-12-06T03:00:00Z ERROR task: Task failed with exception attempt=2",
        "Traceback (most recent call last):",
        '  File "d.py", line 3, in f',
        "ValueError: boom",
    ]
    assert format_message("plain line\nsecond") == ["plain line", "second"]
    assert format_message({"event": "::group::Log message source details", "sources": ["/a.log"]}) == [
        "::group::Log message source details /a.log"
    ]


def test_default_is_the_latest_run_and_its_failed_tasks():
    api = FakeApi(
        [task("ok", "success"), task("bad", "failed", tries=2)],
        {("bad", 2, -1): [[{"event": "first"}], [{"event": "second"}]]},
        runs=["old", "manual__2"],
    )
    out = []
    show_logs(api, LogRequest("d"), out.append)
    assert out == ["===== d manual__2 bad try 2 (failed) =====", "first", "second"]
    assert [call[4] for call in api.calls] == [None, "1"]  # the continuation token is passed back


def test_a_mapped_task_shows_each_index_or_the_one_named():
    tasks = [task("m[0]", "success", map_index=0), task("m[1]", "success", map_index=1)]
    api = FakeApi(tasks, {("m", 1, 0): [[{"event": "zero"}]], ("m", 1, 1): [[{"event": "one"}]]})
    out = []
    show_logs(api, LogRequest("d", "r", "m"), out.append)
    assert [line for line in out if not line.startswith("=")] == ["zero", "one"]
    assert [t.task_id for t in pick_tasks(tasks, "m[1]")] == ["m[1]"]


def test_an_earlier_try_and_errors_that_say_what_to_do():
    api = FakeApi([task("t", "success", tries=2)], {("t", 1, -1): [[{"event": "try one"}]]})
    out = []
    show_logs(api, LogRequest("d", "r", "t", try_number=1), out.append)
    assert out[-1] == "try one"
    with pytest.raises(LocalError, match="has had 2 tries; give a number from 1 to 2"):
        show_logs(api, LogRequest("d", "r", "t", try_number=3), out.append)
    with pytest.raises(LocalError, match=r"has no task 'x'; its tasks: t \(success\)"):
        show_logs(api, LogRequest("d", "r", "x"), out.append)
    with pytest.raises(LocalError, match=r"has no failed task.*airflow-celery local logs d r TASK_ID"):
        show_logs(api, LogRequest("d", "r"), out.append)
    with pytest.raises(LocalError, match="has no runs yet: trigger one with `airflow-celery local trigger d`"):
        show_logs(FakeApi([], {}, runs=[]), LogRequest("d"), out.append)
    with pytest.raises(LocalError, match=r"has not started.*--follow"):
        show_logs(FakeApi([task("q", "queued", tries=0)], {}), LogRequest("d", "r", "q"), out.append)


def test_follow_reads_until_the_log_ends(monkeypatch):
    monkeypatch.setattr("airflow_celery.local.logs.time.sleep", lambda _: None)
    api = FakeApi([task("t", "running")], {("t", 1, -1): [[{"event": "a"}], [], [{"event": "b"}]]})
    out = []
    show_logs(api, LogRequest("d", "r", "t", follow=True), out.append)
    assert out[1:] == ["a", "b"]
    assert len(api.calls) == 3


def test_wait_tails_are_the_last_lines_of_failed_tasks_only():
    lines = [[{"event": f"line {i}"} for i in range(30)]]
    api = FakeApi([task("ok", "success"), task("bad", "failed"), task("never", "upstream_failed", tries=0)], {})
    api.logs[("bad", 1, -1)] = lines
    tails = failed_task_tails(api, "d", "r", api.tasks, lines=3)
    assert [(t.task_id, text) for t, text in tails] == [("bad", ["line 27", "line 28", "line 29"])]


def test_follow_waits_for_a_task_that_has_not_started(monkeypatch):
    monkeypatch.setattr("airflow_celery.local.logs.time.sleep", lambda _: None)
    api = FakeApi([task("t", "queued", tries=0)], {("t", 1, -1): [[{"event": "ran"}]]})
    states = iter([[task("t", "queued", tries=0)], [task("t", "running", tries=1)]])
    api.task_instances = lambda dag_id, run_id: next(states, api.tasks)
    out = []
    show_logs(api, LogRequest("d", "r", "t", follow=True), out.append)
    assert out[0] == "waiting for t to start (queued) ..."
    assert out[-1] == "ran"
