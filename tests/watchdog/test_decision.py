"""Which running tasks the watchdog hands to the scheduler (watchdog/decision.py) and what a round does."""

from __future__ import annotations

from airflow_celery.watchdog import __main__ as loop
from airflow_celery.watchdog.celery_nodes import BrokerUnreachable, NoWorkerReplied
from airflow_celery.watchdog.decision import RunningTask, Watch

STALE = 30


def task(n: int, age: float = 100.0, celery_id: str | None = "auto") -> RunningTask:
    return RunningTask(f"ti-{n}", f"celery-{n}" if celery_id == "auto" else celery_id, age)


def rounds(watch: Watch, running: list[RunningTask], held: set[str], count: int) -> list[list[str]]:
    return [[t.ti_id for t in watch.observe(running, held)] for _ in range(count)]


def test_a_task_no_worker_holds_with_a_stale_heartbeat_is_lost_after_three_rounds_once():
    watch = Watch(rounds=3, stale_after=STALE)
    running = [task(1), task(2)]
    assert rounds(watch, running, {"celery-2"}, 4) == [[], [], ["ti-1"], []]


def test_a_task_a_worker_holds_is_never_lost_even_with_a_stale_heartbeat():
    """An api-server outage: every heartbeat is stale, every task alive and held by a worker answering via Redis."""
    watch = Watch(rounds=3, stale_after=STALE)
    running = [task(n, age=95) for n in range(8)]
    assert rounds(watch, running, {f"celery-{n}" for n in range(8)}, 10) == [[]] * 10


def test_a_worker_that_misses_replies_while_its_tasks_heartbeat_loses_nothing():
    """A CPU-starved worker answers no `inspect active`, but its tasks' supervisors still heartbeat."""
    watch = Watch(rounds=3, stale_after=STALE)
    assert rounds(watch, [task(1, age=2)], set(), 10) == [[]] * 10


def test_a_heartbeat_that_goes_stale_later_is_lost_as_soon_as_it_is_stale():
    watch = Watch(rounds=3, stale_after=STALE)
    assert rounds(watch, [task(1, age=5)], set(), 3) == [[], [], []]
    assert rounds(watch, [task(1, age=31)], set(), 1) == [["ti-1"]]


def test_a_reply_holding_the_task_restarts_the_count():
    watch = Watch(rounds=3, stale_after=STALE)
    running = [task(1)]
    assert rounds(watch, running, set(), 2) == [[], []]
    assert rounds(watch, running, {"celery-1"}, 1) == [[]]
    assert rounds(watch, running, set(), 3) == [[], [], ["ti-1"]]


def test_a_round_without_the_broker_resets_every_count():
    watch = Watch(rounds=3, stale_after=STALE)
    running = [task(1)]
    rounds(watch, running, set(), 2)
    watch.broker_unreachable()
    assert rounds(watch, running, set(), 3) == [[], [], ["ti-1"]]


def test_a_task_without_a_celery_id_is_left_to_the_heartbeat_timeout():
    watch = Watch(rounds=1, stale_after=STALE)
    assert rounds(watch, [task(1, celery_id=None)], set(), 3) == [[], [], []]


def test_tasks_that_stopped_running_are_forgotten():
    watch = Watch(rounds=3, stale_after=STALE)
    rounds(watch, [task(1)], set(), 2)
    watch.observe([], set())
    assert watch.unheld == {}


def test_one_round_ages_the_lost_and_reports_success():
    watch = Watch(rounds=1, stale_after=STALE)
    aged = []
    ok = loop.one_round(watch, lambda: [task(1), task(2)], lambda: {"celery-2"}, lambda lost: aged.extend(lost) or lost)
    assert ok and [t.ti_id for t in aged] == ["ti-1"]


def test_a_round_without_the_broker_ages_nothing_and_fails():
    watch = Watch(rounds=1, stale_after=STALE)
    aged = []

    def unreachable() -> set[str]:
        raise BrokerUnreachable("ConnectionRefusedError")

    assert not loop.one_round(watch, lambda: [task(1)], unreachable, lambda lost: aged.extend(lost) or lost)
    assert aged == []


def test_a_round_no_worker_answered_ages_nothing_counts_nothing_and_keeps_the_watchdog_healthy():
    watch = Watch(rounds=2, stale_after=STALE)
    aged = []

    def silent() -> set[str]:
        raise NoWorkerReplied("no worker replied within 5 s")

    assert loop.one_round(watch, lambda: [task(1)], lambda: set(), lambda lost: aged.extend(lost) or lost)
    for _ in range(5):  # a single starved or restarting worker: silence, round after round
        assert loop.one_round(watch, lambda: [task(1)], silent, lambda lost: aged.extend(lost) or lost)
    assert aged == [] and watch.unheld == {"ti-1": 1}
    assert loop.one_round(watch, lambda: [task(1)], lambda: {"celery-9"}, lambda lost: aged.extend(lost) or lost)
    assert [t.ti_id for t in aged] == ["ti-1"]  # a live worker answers without it: the second counted round


def test_a_round_without_the_database_fails_and_the_loop_does_not_touch_its_liveness_file(tmp_path, monkeypatch):
    alive = tmp_path / "watchdog.alive"

    class Broken:
        def __init__(self, url: str):
            pass

        def running(self):
            raise OSError("connection refused")

    monkeypatch.setattr(loop, "TaskTable", Broken)
    monkeypatch.setattr(loop, "celery_app", lambda url: None)
    monkeypatch.setattr(loop.time, "sleep", lambda seconds: None)
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x@127.0.0.1:1/x",
        "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:1/0",
        "AIRFLOW_CELERY_WATCHDOG_ALIVE_FILE": str(alive),
    }
    assert loop.main(env, rounds=3) == 0
    assert not alive.exists()


def test_the_watchdog_refuses_to_start_without_its_urls(capsys):
    assert loop.main({}, rounds=1) == 78
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in capsys.readouterr().err


def test_each_broken_dag_whose_runs_are_resumed_is_logged(caplog):
    with caplog.at_level("INFO", logger="airflow_celery.watchdog"):
        assert loop.resume_broken(lambda: ["bundle_probe"]) == ["bundle_probe"]
    assert "bundle_probe: its file fails to parse" in caplog.text


def test_a_failed_resume_of_broken_dags_costs_its_round_only(caplog):
    def locked() -> list[str]:
        raise RuntimeError("canceling statement due to lock timeout")

    with caplog.at_level("WARNING", logger="airflow_celery.watchdog"):
        assert loop.resume_broken(locked) == []
    assert "lock timeout" in caplog.text


def test_the_tasks_counted_but_not_lost_yet_are_the_rounds_suspects():
    """What the watchdog logs every round before it acts: a false positive in the making shows in the log."""
    watch = Watch(rounds=3, stale_after=STALE)
    running = [task(1), task(2, age=2), task(3)]
    watch.observe(running, {"celery-3"})
    assert [(t.ti_id, count) for t, count in watch.suspects] == [("ti-1", 1), ("ti-2", 1)]
    watch.observe(running, {"celery-3"})
    watch.observe(running, {"celery-3"})  # ti-1 is lost in this round, ti-2 is fresh: counted, not lost
    assert [(t.ti_id, count) for t, count in watch.suspects] == [("ti-2", 3)]
