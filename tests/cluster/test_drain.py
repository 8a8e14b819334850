"""The drain protocol's decision (cluster/drain.py): one table, read by the worker on ECS and locally."""

from __future__ import annotations

import pytest

from airflow_celery.cluster.drain import (
    DRAIN_PROTECTION_CAP,
    DrainClock,
    choose_to_go,
    chosen_by_scale_in,
    decide,
    superseded_may_stop_consuming,
)

CAP = 100.0


@pytest.mark.parametrize(
    ("holds", "must_go", "draining_for", "consume", "protect", "release"),
    [
        # serving: always consuming and protected, idle or busy (ECS may never stop a consuming worker)
        (0, False, None, True, True, False),
        (5, False, None, True, True, False),
        # going: stop consuming; protected while it holds tasks, released once it holds none
        (3, True, 0.0, False, True, False),
        (1, True, CAP - 1, False, True, False),
        (0, True, 0.0, False, False, True),
        (0, True, CAP * 5, False, False, True),
        # the cap: released although tasks still run (ECS then SIGTERMs, waits stopTimeout, SIGKILLs)
        (2, True, CAP, False, False, True),
        (2, True, CAP * 10, False, False, True),
    ],
)
def test_the_decision_table(holds, must_go, draining_for, consume, protect, release):
    step = decide(holds, must_go, draining_for, CAP)
    assert (step.consume, step.protect, step.release) == (consume, protect, release), step.reason


def test_never_unprotected_while_consuming():
    for holds in range(3):
        for must_go in (False, True):
            for waited in (None, 0.0, CAP, CAP * 2):
                step = decide(holds, must_go, waited, CAP)
                assert step.protect or not step.consume
                assert not (step.release and step.consume)


def test_the_cap_is_an_hour_and_bounded_by_the_api():
    assert DRAIN_PROTECTION_CAP == 3600
    assert DRAIN_PROTECTION_CAP <= 2880 * 60  # UpdateTaskProtection's longest expiry


def test_the_drain_clock_counts_from_the_first_must_go_and_resets_when_wanted_again():
    clock = DrainClock()
    assert clock.tick(False, 10) is None
    assert clock.tick(True, 20) == 0
    assert clock.tick(True, 50) == 30
    assert clock.tick(False, 60) is None
    assert clock.tick(True, 70) == 0


@pytest.mark.parametrize(
    ("holds", "count", "expected"),
    [
        ({"a": 3, "b": 0, "c": 1}, 1, ["b"]),
        ({"a": 3, "b": 0, "c": 1}, 2, ["b", "c"]),
        ({"worker-1": 0, "worker-2": 0, "worker-3": 0}, 1, ["worker-3"]),  # ties: the highest-numbered
        ({"worker-1": None, "worker-2": 4}, 1, ["worker-2"]),  # unknown load goes last
        ({"a": 1}, 0, []),
        ({"a": 1, "b": 2}, 5, ["a", "b"]),
    ],
)
def test_a_scale_in_lets_the_least_busy_go(holds, count, expected):
    assert choose_to_go(holds, count) == expected


@pytest.mark.parametrize(("running", "desired", "expected"), [(0, 2, False), (1, 2, False), (2, 2, True), (3, 2, True)])
def test_a_superseded_worker_serves_until_the_new_deployment_runs(running, desired, expected):
    assert superseded_may_stop_consuming(running, desired) is expected


def test_a_scale_in_of_one_among_idle_workers_lets_exactly_one_go_whatever_order_each_sees():
    workers = ["celery@worker-a", "celery@worker-b", "celery@worker-c"]
    views = [dict.fromkeys(order, 0) for order in (workers, workers[::-1], workers[1:] + workers[:1])]
    going = [node for node, view in zip(workers, views, strict=True) if chosen_by_scale_in(node, view, 1)]
    assert len(going) == 1
    assert all(chosen_by_scale_in(going[0], view, 1) for view in views)  # every worker agrees on which one


def test_a_scale_in_picks_the_least_busy_and_a_worker_unseen_by_the_others_stays():
    peers = {"celery@a": 3, "celery@b": 0, "celery@c": 1}
    assert [n for n in peers if chosen_by_scale_in(n, peers, 2)] == ["celery@b", "celery@c"]
    assert not chosen_by_scale_in("celery@d", peers, 3)
