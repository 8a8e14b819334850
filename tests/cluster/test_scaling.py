"""The one scaling decision (cluster/scaling.py), table-driven: what both renderers do with a load."""

from __future__ import annotations

import pytest

from airflow_celery.cluster.scaling import Autoscaler, Load, ScaleInWindow, ScalingRule, decide, workers_for

RULE = ScalingRule(min_workers=0, max_workers=5, concurrency=4, scale_in_cooldown=60)


@pytest.mark.parametrize(
    ("queued", "running", "min_workers", "max_workers", "expected"),
    [
        pytest.param(0, 0, 0, 5, 0, id="zero/zero idles at zero"),
        pytest.param(0, 0, 1, 5, 1, id="zero/zero keeps the minimum"),
        pytest.param(1, 0, 0, 5, 1, id="first task from zero"),
        pytest.param(4, 0, 0, 5, 1, id="a full worker"),
        pytest.param(3, 2, 0, 5, 2, id="one slot over a worker"),
        pytest.param(100, 20, 0, 5, 5, id="max cap"),
        pytest.param(0, 0, 2, 2, 2, id="fixed count"),
        pytest.param(-3, 1, 0, 5, 1, id="a negative count is no load"),
    ],
)
def test_the_rule_is_ceil_of_tasks_over_concurrency_clamped(queued, running, min_workers, max_workers, expected):
    rule = ScalingRule(min_workers=min_workers, max_workers=max_workers, concurrency=4)
    assert workers_for(Load(queued, running), rule) == expected


@pytest.mark.parametrize(
    ("current", "queued", "running", "expected"),
    [
        pytest.param(0, 0, 0, 0, id="zero/zero stays at zero"),
        pytest.param(0, 1, 0, 1, id="first task from zero scales out at once"),
        pytest.param(1, 30, 0, 5, id="a burst jumps straight to max"),
        pytest.param(5, 200, 20, 5, id="max cap"),
        pytest.param(2, 0, 5, 2, id="a lower count waits for the cool-down"),
    ],
)
def test_scale_out_is_immediate_and_scale_in_waits(current, queued, running, expected):
    assert decide(Load(queued, running), current, RULE, now=0.0, window=None).desired == expected


def run(rule: ScalingRule, start: int | None, ticks: list[tuple[float, int]]) -> list[int]:
    """Feed (time, tasks) ticks; return the desired workers after each."""
    scaler = Autoscaler(rule, current=start)
    return [scaler.tick(Load(queued=0, running=tasks), now) for now, tasks in ticks]


@pytest.mark.parametrize(
    ("start", "ticks", "expected"),
    [
        pytest.param(
            None, [(0, 0)], [0],
            id="unknown current: the rule, at once",
        ),
        pytest.param(
            3, [(0, 0), (30, 0), (59, 0), (60, 0)], [3, 3, 3, 0],
            id="idle: scale to zero after exactly the cool-down",
        ),
        pytest.param(
            1, [(0, 9), (10, 0), (20, 9), (30, 0), (40, 9), (50, 0), (60, 9), (70, 0)], [3, 3, 3, 3, 3, 3, 3, 3],
            id="flapping burst/idle every 10 s never scales in",
        ),
        pytest.param(
            3, [(0, 0), (20, 5), (40, 0), (60, 0)], [3, 3, 3, 2],
            id="a blip inside the window: scale in to the highest need seen",
        ),
        pytest.param(
            3, [(0, 0), (30, 9), (40, 0), (99, 0), (100, 0)], [3, 3, 3, 3, 0],
            id="a return to full load restarts the cool-down",
        ),
        pytest.param(
            2, [(0, 4), (100, 4), (200, 3), (300, 3)], [2, 2, 2, 1],
            id="hysteresis: 4 tasks keep 2 workers of 4 slots (1 spare slot), 3 let one go",
        ),
        pytest.param(
            2, [(0, 5), (10, 4), (20, 5), (30, 4), (200, 5)], [2, 2, 2, 2, 2],
            id="flapping around a worker boundary holds",
        ),
    ],
)  # fmt: skip
def test_cool_down_and_hysteresis_keep_a_burst_from_flapping(start, ticks, expected):
    assert run(RULE, start, ticks) == expected


def test_scale_in_never_goes_below_min():
    rule = ScalingRule(min_workers=2, max_workers=5, concurrency=4, scale_in_cooldown=0)
    assert run(rule, 5, [(0, 0), (1, 0)]) == [2, 2]


def test_the_window_is_carried_by_the_caller():
    first = decide(Load(0, 0), 3, RULE, now=10.0, window=None)
    assert first.window == ScaleInWindow(since=10.0, highest=0)
    assert decide(Load(0, 0), 3, RULE, now=70.0, window=first.window).desired == 0
    assert decide(Load(0, 0), 3, RULE, now=70.0, window=None).desired == 3


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"min_workers": 0, "max_workers": 2, "concurrency": 0}, "concurrency"),
        ({"min_workers": 3, "max_workers": 2, "concurrency": 4}, "min_workers"),
        ({"min_workers": 0, "max_workers": 0, "concurrency": 4}, "max_workers"),
        ({"min_workers": 0, "max_workers": 2, "concurrency": 4, "scale_in_cooldown": -1}, "scale_in_cooldown"),
        ({"min_workers": 0, "max_workers": 2, "concurrency": 4, "hysteresis_slots": 4}, "hysteresis_slots"),
    ],
)
def test_a_bad_rule_names_the_field(kwargs, named):
    with pytest.raises(ValueError, match=named):
        ScalingRule(**kwargs)
