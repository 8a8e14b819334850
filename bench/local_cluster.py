"""What every benchmark script shares: a local cluster in a temporary folder, started and always stopped here.

`BenchCluster` makes the temporary state dir, dags folder and free ports; `up()` validates the options as
`local up` does and starts the cluster through `runner.running` (stopping the one already running, for a
benchmark that restarts with another shape); leaving the `with` block stops the cluster and deletes the folder
unless `keep_state`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from airflow_celery.local import runner
from airflow_celery.local.options import BOUND_PORTS, validate_up_options
from airflow_celery.local.ports import free_ports as free_port_numbers

REPO = Path(__file__).resolve().parents[1]
PROJECT_DAGS = REPO / "dags"
BENCH_DAGS = Path(__file__).resolve().parent / "dags"
HEALTH_TIMEOUT = 300
"""The machine may be shared and busy: more than `local up`'s default for each health check."""
SLEEP_DAG_ID = re.compile(r"^\w+_(\d+)x(\d+)$")


def free_ports() -> list[str]:
    """`--port KEY=NUMBER` overrides putting every port `local up` binds on a free one."""
    return [f"{key}={port}" for key, port in zip(BOUND_PORTS, free_port_numbers(len(BOUND_PORTS)), strict=True)]


class BenchCluster:
    """A local cluster in a temporary folder: `with BenchCluster(...) as bench: cluster, seconds = bench.up(2, 4)`."""

    def __init__(self, prefix: str, console: Console, keep_state: bool = False, health_timeout: int = HEALTH_TIMEOUT):
        self.prefix, self.console, self.keep_state, self.health_timeout = prefix, console, keep_state, health_timeout
        self._running = contextlib.ExitStack()

    def __enter__(self) -> BenchCluster:
        self.root = Path(tempfile.mkdtemp(prefix=self.prefix))
        self.state, self.dags, self.ports = self.root / "state", self.root / "dags", free_ports()
        self.dags.mkdir()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.down()
        finally:
            if self.keep_state:
                self.console.print(f"state kept in {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def add_project_dag(self, name: str) -> None:
        """One of the project's own DAG files (dags/<name>.py)."""
        shutil.copy(PROJECT_DAGS / f"{name}.py", self.dags)

    def add_bench_dag(self, name: str, dags: Path | None = None) -> Path:
        """A DAG file of bench/dags, as it is (into `dags`, by default the cluster's folder)."""
        return Path(shutil.copy(BENCH_DAGS / f"{name}.py", dags or self.dags))

    def add_sleep_dag(self, dag_id: str) -> None:
        """bench/dags/sleep_tasks.py as `<dag_id>.py`: its name `<prefix>_<tasks>x<seconds>` sets its shape."""
        if not SLEEP_DAG_ID.match(dag_id):
            raise ValueError(f"dag_id={dag_id!r}: a sleep DAG is named <prefix>_<tasks>x<seconds>, e.g. bench_40x5")
        shutil.copy(BENCH_DAGS / "sleep_tasks.py", self.dags / f"{dag_id}.py")

    def up(
        self, workers: int | str, slots: int, dags: Path | None = None, **options
    ) -> tuple[runner.LocalCluster, float]:
        """Validate as `local up` does, stop the cluster already running, start this one: (cluster, seconds to
        all healthy)."""
        up_options = validate_up_options(
            workers, slots, self.state, dags or self.dags, self.ports, self.health_timeout, **options
        )
        self.down()
        started = time.monotonic()
        cluster = self._running.enter_context(runner.running(up_options, self.console))
        return cluster, time.monotonic() - started

    def on_down(self, callback: Callable[..., object], *args: object) -> None:
        """Call `callback(*args)` before the running cluster stops (processes started next to it)."""
        self._running.callback(callback, *args)

    def down(self) -> None:
        self._running.close()


def results_table(what: str, columns: Iterable[str], rows: Iterable[Iterable[str]], title_extra: str = "") -> Table:
    """A bench script's results, titled with the time and the machine and captioned with the load average at the end
    (the machine may be shared: a figure measured beside other work is not this machine's)."""
    load = os.getloadavg()
    table = Table(
        title=f"airflow-celery {what}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB RAM{title_extra}"
    )
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    table.caption = f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (the machine may be shared)"
    return table


def tree_memory(root_pid: int) -> tuple[float, float]:
    """RSS and PSS in MiB summed over a process and all its descendants."""
    root = psutil.Process(root_pid)
    rss = pss = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", 0)
    return rss / 2**20, pss / 2**20


def program_memory(cluster: runner.LocalCluster) -> dict[str, float]:
    """PSS in MiB of each supervisord program's process tree, largest first, and of supervisord itself: where
    `tree_memory`'s total goes. A program's forked children count with it (pages they share with it are split
    between them, so the parts add up to the total)."""
    from airflow_celery.local import supervisor

    memory = {
        name: tree_memory(int(info["pid"]))[1]
        for name, info in supervisor.process_infos(cluster.paths).items()
        if info.get("pid")
    }
    pid = supervisor.supervisord_pid(cluster.paths)
    if pid:
        memory["supervisord"] = psutil.Process(pid).memory_full_info().pss / 2**20
    return dict(sorted(memory.items(), key=lambda item: -item[1]))


def stop_group(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process's group, SIGKILL what is left after 60 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    for process in processes:
        try:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
