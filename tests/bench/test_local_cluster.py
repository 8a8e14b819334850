"""bench/local_cluster.py: a restart stops the running cluster first, processes started next to a cluster stop before
it, and leaving the block stops the last one and removes the folder (runner.running stood in for)."""

from __future__ import annotations

import contextlib

from rich.console import Console

from bench import local_cluster
from bench.local_cluster import BenchCluster


def test_up_twice_restarts_and_the_block_end_stops_everything_in_order(monkeypatch):
    events: list[str] = []

    @contextlib.contextmanager
    def running(options, console):
        events.append(f"up {options.workers}")
        try:
            yield f"cluster {options.workers}"
        finally:
            events.append(f"down {options.workers}")

    monkeypatch.setattr(local_cluster.runner, "running", running)
    with BenchCluster("acbench-test-", Console(quiet=True)) as bench:
        first, _ = bench.up(1, 4)
        second, _ = bench.up(2, 4, scale_in_cooldown=20)
        bench.on_down(events.append, "hand-started stopped")
        root = bench.root
        assert (first, second) == ("cluster 1", "cluster 2")
    assert events == ["up 1", "down 1", "up 2", "hand-started stopped", "down 2"]
    assert not root.exists()


def test_program_memory_is_each_programs_tree_largest_first_and_supervisord_alone(monkeypatch):
    """Read from real processes: this test's (with a child sleeping) stands in for a program, a `sleep` for another,
    a stopped program (pid 0) is left out, and supervisord's own process is counted without its tree."""
    import os
    import subprocess

    from airflow_celery.local import supervisor

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        infos = {"big": {"pid": os.getpid()}, "small": {"pid": sleeper.pid}, "stopped": {"pid": 0}}
        monkeypatch.setattr(supervisor, "process_infos", lambda paths: infos)
        monkeypatch.setattr(supervisor, "supervisord_pid", lambda paths: sleeper.pid)
        memory = local_cluster.program_memory(type("Cluster", (), {"paths": None})())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert list(memory) == ["big", "small", "supervisord"]
    assert memory["big"] > 10 * memory["small"] > 0  # a Python with pytest loaded, against a sleep
    assert memory["small"] == memory["supervisord"]
