"""The benchmark's kept runs: one JSON file per dated run in bench/runs/, with the machine's facts.

`python -m bench.benchmark --json` writes one; `python -m bench.compare OLD NEW` compares two; the README's benchmark
table is `readme_table()` of the latest (tests/bench/test_runs.py checks that the README shows it).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RUNS_DIR = Path(__file__).resolve().parent / "runs"
LATENCY_DIR = RUNS_DIR / "latency"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    ideal: float | None = None
    target: str = ""


FIGURES = (
    Figure("cold_start_s", "cold start to all healthy (1 worker; initdb, migrate, every role)", "s", None, "<= 30 s"),
    Figure("warm_start_s", "start to all healthy again (2 workers, existing state dir)", "s"),
    Figure("idle_pss_gb", "idle memory, 1 worker x 4 slots, PSS over the supervisor's tree", "GB", None, "<= 1.2 GB"),
    Figure("idle_rss_gb", "idle memory, 1 worker x 4 slots, RSS over the supervisor's tree", "GB"),
    Figure("demo_5x30_s", "`celery_parallel_demo` (5 x 30 s on 2 workers): trigger to success", "s", 30, "<= 1.05x"),
    Figure("celery_2x4_40x5_s", "40 x 5 s, CeleryExecutor, 2 workers x 4 slots", "s", 25, "<= 1.15x"),
    Figure("celery_1x4_40x5_s", "40 x 5 s, CeleryExecutor, 1 worker x 4 slots", "s", 50, "<= LocalExecutor"),
    Figure("local_executor_40x5_s", "40 x 5 s, LocalExecutor, parallelism 4", "s", 50),
)
"""What a run records, in the README's order; `ideal` is the figure with no overhead at all."""


def machine_facts() -> dict[str, object]:
    import psutil

    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo().splitlines() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    return {
        "host": platform.node(),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "celery": _version("celery"),
        "celery_provider": _version("apache-airflow-providers-celery"),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def write_run(
    figures: dict[str, float],
    directory: Path = RUNS_DIR,
    when: datetime | None = None,
    idle_pss_by_program: dict[str, float] | None = None,
) -> Path:
    """`idle_pss_by_program`: the idle PSS's parts in MiB (bench/local_cluster.py, `program_memory`)."""
    when = when or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{when:%Y-%m-%dT%H%M%SZ}.json"
    data = {"date": f"{when:%Y-%m-%dT%H:%M:%SZ}", "machine": machine_facts(), "figures": figures}
    if idle_pss_by_program:
        data["idle_pss_mib_by_program"] = {name: round(mib, 1) for name, mib in idle_pss_by_program.items()}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def load_run(path: Path) -> dict:
    data = json.loads(Path(path).read_text())
    unknown = set(data["figures"]) - {f.key for f in FIGURES}
    if unknown:
        sys.exit(f"{path}: unknown figures {sorted(unknown)}")
    return data


def latest(directory: Path = RUNS_DIR) -> Path | None:
    """The newest run file (file names are UTC times, so the last name is the latest)."""
    files = sorted(directory.glob("*.json"))
    return files[-1] if files else None


def _value(figure: Figure, value: float) -> str:
    text = f"{value:.3f} {figure.unit}" if figure.unit == "GB" else f"{value:.1f} {figure.unit}"
    return f"{text} ({value / figure.ideal:.2f}x)" if figure.ideal else text


def readme_table(run: dict) -> str:
    """The README's benchmark table, from one run."""
    machine = run["machine"]
    lines = [
        f"Run {run['date']} ({machine['cores']} cores, {machine['cpu_model']}, {machine['memory_gb']:.0f} GB; "
        f"Python {machine['python']}, Airflow {machine['airflow']}; load average at the end "
        f"{' '.join(str(x) for x in machine['load_average_at_end'])}):",
        "",
        "| measure | result (x ideal) | ideal | target |",
        "|---|---|---|---|",
    ]
    for figure in FIGURES:
        if figure.key in run["figures"]:
            ideal = f"{figure.ideal:g} {figure.unit}" if figure.ideal else ""
            value = _value(figure, run["figures"][figure.key])
            lines.append(f"| {figure.label} | {value} | {ideal} | {figure.target} |")
    return "\n".join(lines)


def memory_table(run: dict) -> str:
    """The idle PSS's parts, largest first, from one run that recorded them."""
    parts = run["idle_pss_mib_by_program"]
    lines = ["| program (its process tree) | PSS |", "|---|---|"]
    lines += [f"| {name} | {mib:.0f} MiB |" for name, mib in parts.items()]
    lines.append(f"| **total** | **{sum(parts.values()):.0f} MiB** |")
    return "\n".join(lines)


def latency_table(latency: dict) -> str:
    """The README's breakdown: median seconds from the trigger to each stage, one column per run of bench/latency.py."""
    runs = latency["runs"]
    header = "| stage | " + " | ".join(r["label"] for r in runs) + " |"
    lines = [header, "|---|" + "---|" * len(runs)]
    stages = list(runs[0]["stages"])
    for stage in stages:
        cells = []
        for r in runs:
            offset = r["stages"][stage]["median_offset_s"]
            cells.append("" if offset is None else f"{offset:.2f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    walls = [f"**{r['trigger_to_success_s']:.2f}**" for r in runs]
    lines.append("| **trigger to success** | " + " | ".join(walls) + " |")
    held = ["" if r.get("slot_held_s") is None else f"{r['slot_held_s']:.2f}" for r in runs]
    lines.append("| slot held per task (queued to scheduler saw end) | " + " | ".join(held) + " |")
    waits = ["" if r.get("slot_handover_s") is None else f"{r['slot_handover_s']:.2f}" for r in runs]
    if any(waits):
        label = "a freed slot's wait for its next task (scheduler saw end to queued)"
        lines.append(f"| {label} | " + " | ".join(waits) + " |")
    rates = ["" if r["start_rate_per_s"] is None else f"{r['start_rate_per_s']:.2f}" for r in runs]
    lines.append("| start rate (tasks/s) | " + " | ".join(rates) + " |")
    lines.append("| cluster CPU s per task | " + " | ".join(f"{r['cpu_seconds_per_task']:.2f}" for r in runs) + " |")
    programs = list(dict.fromkeys(name for r in runs for name in r.get("cpu_seconds_per_task_by_program", {})))
    for name in programs:
        cells = [r.get("cpu_seconds_per_task_by_program", {}).get(name) for r in runs]
        cells_text = " | ".join("" if value is None else f"{value:.3f}" for value in cells)
        lines.append(f"| of which {name} | {cells_text} |")
    return "\n".join(lines)


def latency_section(directory: Path = LATENCY_DIR) -> str:
    """Every kept breakdown of bench/latency.py, oldest first, each under its file name: before and after a change."""
    parts = []
    for path in sorted(directory.glob("*.json")):
        latency = json.loads(path.read_text())
        settings = latency.get("settings") or {}
        extra = f", settings {settings}" if settings else ""
        parts.append(f"`{path.name}` ({latency['date']}{extra}):\n\n{latency_table(latency)}")
    return "\n\n".join(parts)
