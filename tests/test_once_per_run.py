"""tests/once_per_run.py: a session value computed by one xdist process of the run and read by the others."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.once_per_run import once_per_run


class _RunTemp:
    """tmp_path_factory as one xdist process of a run sees it: its base temp is `popen-gwN` in the run's folder."""

    def __init__(self, run: Path, worker: str):
        self.base = run / f"popen-{worker}"
        self.base.mkdir(parents=True, exist_ok=True)

    def getbasetemp(self) -> Path:
        return self.base


def _compute_in(run: Path, worker: str, calls: Path) -> dict:
    def compute() -> dict:
        with calls.open("a") as log:
            log.write(f"{worker}\n")
        return {"built-by": worker}

    return once_per_run(_RunTemp(run, worker), "dev", compute)


def _in_process(run: Path, worker: str, calls: Path, results) -> None:
    import os

    os.environ["PYTEST_XDIST_WORKER"] = worker
    results.put(_compute_in(run, worker, calls))


def test_four_processes_of_a_run_get_one_value_computed_once(tmp_path):
    calls = tmp_path / "calls"
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_in_process, args=(tmp_path, f"gw{n}", calls, results)) for n in range(4)]
    try:
        for process in processes:
            process.start()
        values = [results.get(timeout=30) for _ in processes]
    finally:
        for process in (process for process in processes if process.pid is not None):  # the started ones
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert len(calls.read_text().split()) == 1
    assert len({value["built-by"] for value in values}) == 1


def test_another_run_computes_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    calls = tmp_path / "calls"
    _compute_in(tmp_path / "run-1", "gw0", calls)
    _compute_in(tmp_path / "run-2", "gw0", calls)
    assert calls.read_text().split() == ["gw0", "gw0"]


def test_without_xdist_the_value_is_computed_every_time(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    calls = tmp_path / "calls"
    _compute_in(tmp_path, "main", calls)
    _compute_in(tmp_path, "main", calls)
    assert calls.read_text().split() == ["main", "main"]
    assert not list(tmp_path.glob("once-*.pickle"))


def test_a_failed_computation_leaves_nothing_and_the_next_process_tries_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")

    def fail() -> dict:
        raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError, match="the build failed"):
        once_per_run(_RunTemp(tmp_path, "gw0"), "dev", fail)
    assert not list(tmp_path.glob("once-*.pickle"))
    assert _compute_in(tmp_path, "gw1", tmp_path / "calls") == {"built-by": "gw1"}
