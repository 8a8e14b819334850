import os
import time

from tests.local.failure_logs import LINES_PER_FILE, cluster_log_excerpts, collapse_repeats, keep_logs


def write(path, lines, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_only_the_noteworthy_lines_of_the_logs_written_during_the_test(tmp_path):
    started = time.time()
    write(tmp_path / "logs" / "scheduler-1.log", ["loop ok", "Executor reported t7 failed", "loop ok"])
    write(tmp_path / "logs" / "watchdog.log", ["WARNING lost: t7"], mtime=started - 60)  # before the test
    attempt = tmp_path / "airflow" / "logs" / "dag_id=d" / "run_id=r" / "task_id=t7" / "attempt=1.log"
    write(attempt, ["start", "Too many failed heartbeats; terminating process"])

    excerpts = cluster_log_excerpts(tmp_path, started - 1)

    assert excerpts.splitlines() == [
        "--- logs/scheduler-1.log",
        "Executor reported t7 failed",
        "--- airflow/logs/dag_id=d/run_id=r/task_id=t7/attempt=1.log",
        "Too many failed heartbeats; terminating process",
    ]


def test_each_file_gives_its_last_lines_only(tmp_path):
    write(tmp_path / "logs" / "worker-1.log", [f"error {chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(100)])
    lines = cluster_log_excerpts(tmp_path, 0).splitlines()
    assert lines[1:] == [f"error {chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(100 - LINES_PER_FILE, 100)]


def test_a_quiet_cluster_says_so(tmp_path):
    write(tmp_path / "logs" / "api-server.log", ["GET /api/v2/version 200"])
    assert cluster_log_excerpts(tmp_path, 0).startswith("no warning or error")


def test_the_logs_are_kept_beside_the_state_directory_that_down_purges(tmp_path):
    state = tmp_path / "state"
    write(state / "logs" / "worker-1.log", ["x"])
    write(state / "airflow" / "logs" / "dag_id=d" / "attempt=1.log", ["y"])
    kept = keep_logs(state, "test_outage")
    assert (kept / "logs" / "worker-1.log").read_text() == "x\n"
    assert (kept / "task-logs" / "dag_id=d" / "attempt=1.log").read_text() == "y\n"
    assert kept.parent == tmp_path


def test_the_task_sdk_retry_chatter_is_left_out(tmp_path):
    write(tmp_path / "logs" / "worker-1.log", [
        "[warning  ] Starting call to 'airflow.sdk.api.client.Client.request', this is the 2nd time calling it.",
        "[warning  ] Failed to send heartbeat. Will be retried [supervisor] failed_heartbeats=1",
    ])  # fmt: skip
    assert cluster_log_excerpts(tmp_path, 0).splitlines()[1:] == [
        "[warning  ] Failed to send heartbeat. Will be retried [supervisor] failed_heartbeats=1"
    ]


def test_lines_that_differ_in_numbers_and_ids_only_are_counted_once():
    lines = [
        "01:00:01 failed_heartbeats=1 ti_id=01a24e26-d5c8-721d-9fb4-4563231fde91",
        "01:00:02 Executor reported t7 failed",
        "01:00:09 failed_heartbeats=2 ti_id=01a24e26-d5c5-7613-ba70-81c1614ac22f",
    ]
    assert collapse_repeats(lines) == [
        "01:00:02 Executor reported t7 failed",
        "01:00:09 failed_heartbeats=2 ti_id=01a24e26-d5c5-7613-ba70-81c1614ac22f  [x2]",
    ]
