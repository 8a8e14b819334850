"""The kept benchmark runs: the README shows the latest, and compare.py prints ratios."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import compare, runs

BENCH = Path(__file__).resolve().parents[2] / "bench"
README = BENCH.parent / "README.md"

TABLE_START, TABLE_END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"
LATENCY_START, LATENCY_END = "<!-- latency-table:start -->", "<!-- latency-table:end -->"
MEMORY_START, MEMORY_END = "<!-- memory-table:start -->", "<!-- memory-table:end -->"


def _between(text: str, start: str, end: str) -> str:
    assert start in text and end in text, f"README.md has no {start} ... {end} block"
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_readme_benchmark_table_is_the_latest_run():
    latest = runs.latest()
    assert latest is not None, "bench/runs/ holds no run: `python -m bench.benchmark --json`"
    expected = runs.readme_table(runs.load_run(latest))
    assert _between(README.read_text(), TABLE_START, TABLE_END) == expected


def test_readme_memory_table_is_the_latest_run_that_recorded_one():
    recorded = [
        path for path in sorted(runs.RUNS_DIR.glob("*.json")) if "idle_pss_mib_by_program" in runs.load_run(path)
    ]
    assert recorded, "no kept run records the idle memory by program: `python -m bench.benchmark --json`"
    expected = runs.memory_table(runs.load_run(recorded[-1]))
    assert _between(README.read_text(), MEMORY_START, MEMORY_END) == expected


def test_readme_shows_every_kept_latency_breakdown():
    assert runs.latest(runs.LATENCY_DIR) is not None, "bench/runs/latency/ holds no run: bench/latency.py --json"
    assert _between(README.read_text(), LATENCY_START, LATENCY_END) == runs.latency_section()


def test_every_kept_run_has_the_machine_facts_and_known_figures():
    for path in sorted(runs.RUNS_DIR.glob("*.json")):
        run = runs.load_run(path)
        assert {"cpu_model", "cores", "memory_gb", "python", "airflow"} <= set(run["machine"]), path


def test_write_run_names_the_file_by_time_and_records_the_machine(tmp_path: Path):
    when = datetime(2026, 12, 6, 4, 5, 6, tzinfo=UTC)
    path = runs.write_run({"demo_5x30_s": 31.0}, tmp_path, when)
    assert path.name == "2026-12-06T040506Z.json"
    run = runs.load_run(path)
    assert run["date"] == "2026-12-06T04:05:06Z"
    assert run["machine"]["cores"] >= 1 and run["machine"]["airflow"]
    assert runs.latest(tmp_path) == path


def test_a_run_keeps_the_idle_memorys_parts_and_the_table_adds_them_up(tmp_path: Path):
    parts = {"api-server": 277.71, "worker-1": 231.0, "supervisord": 14.9}
    path = runs.write_run({"idle_pss_gb": 0.51}, tmp_path, idle_pss_by_program=parts)
    run = runs.load_run(path)
    assert run["idle_pss_mib_by_program"] == {"api-server": 277.7, "worker-1": 231.0, "supervisord": 14.9}
    assert runs.memory_table(run).splitlines()[2:] == [
        "| api-server | 278 MiB |",
        "| worker-1 | 231 MiB |",
        "| supervisord | 15 MiB |",
        "| **total** | **524 MiB** |",
    ]


def test_compare_prints_new_over_old_and_flags_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture):
    old = runs.write_run({"celery_2x4_40x5_s": 31.3, "demo_5x30_s": 33.0}, tmp_path, datetime(2026, 11, 22, tzinfo=UTC))
    new = runs.write_run({"celery_2x4_40x5_s": 35.3, "demo_5x30_s": 33.0}, tmp_path, datetime(2026, 12, 6, tzinfo=UTC))
    compare.main([str(old), str(new)])
    out = capsys.readouterr().out
    two_by_four = next(line for line in out.splitlines() if "2 workers x 4" in line)
    assert "1.13" in two_by_four and "slower" in two_by_four
    demo = next(line for line in out.splitlines() if "celery_parallel_demo" in line)
    assert "1.00" in demo and "slower" not in demo


def test_an_unknown_figure_is_refused(tmp_path: Path):
    path = runs.write_run({"made_up": 1.0}, tmp_path)
    with pytest.raises(SystemExit, match="made_up"):
        runs.load_run(path)


def test_the_latency_table_shows_each_programs_cpu_per_task_where_a_run_recorded_it():
    stages = {"trigger": {"median_offset_s": 0.0}}
    old = {
        "label": "old",
        "stages": stages,
        "trigger_to_success_s": 3.0,
        "start_rate_per_s": None,
        "cpu_seconds_per_task": 0.5,
    }
    new = {**old, "label": "new", "cpu_seconds_per_task_by_program": {"scheduler": 0.12, "api-server": 0.054}}
    table = runs.latency_table({"runs": [old, new]}).splitlines()
    assert table[-2:] == ["| of which scheduler |  | 0.120 |", "| of which api-server |  | 0.054 |"]
