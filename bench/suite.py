"""Where `make test`'s time goes, and the least it can take here: `python3 -m bench.suite [--json] [--target test]`.

Runs `make test` itself (the Makefile's own commands and environment, nothing copied here) and follows which
command make is running, from its child processes. For each command it prints the wall time and the CPU time the
whole machine spent meanwhile (the kernel's counters in /proc/stat: every process, the local clusters' daemonized
ones too, which `time` does not count), and how many cores that kept busy. Then the floor: all that CPU divided by
the cores, how long the run's work takes on these cores kept busy throughout. Not a strict bound: part of the CPU
(the test clusters' idle loops) grows with the run's length, so a shorter run would need a little less; the
start-ups, migrations, imports and parses would not.

Where the kernel lets this process switch on process accounting (acct(2): root, or CAP_SYS_PACCT), it also splits
the CPU by program name, for every process that began and ended during the run (Linux's acct_v3 records; the local
clusters are down by the end, so theirs are in). Run it on an otherwise idle machine: /proc/stat and the accounting see
every process on it, and the load average at the start is kept with the figures.

It needs only the standard library, so a fresh clone's `python3 -m bench.suite` measures the venv's creation too.
With `--json` the figures and the machine's facts (read by the venv's Python once `make` has made it: the Airflow
and Celery it installed) go to bench/runs/suite/<UTC time>.json; the README's table of the suite's time is
`readme_table()` of the latest (tests/bench/test_suite.py checks it).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import runs

REPO = Path(__file__).resolve().parents[1]
SUITE_DIR = runs.RUNS_DIR / "suite"
TARGET_S = 240.0
"""Issue 19: `make test` from a fresh clone in at most 4 minutes on the 2-core machine."""
POLL_S = 0.05
"""How often make's child process is looked at: a command's start and end are known to about this much, and a
command shorter than that may go unseen, its time counted in its neighbour's step. Each look reads three small
/proc files: well under 1 % of a core."""
STOP_GRACE_S = 300.0
"""After a timeout or Ctrl-C, how long make's processes get after SIGINT to end as on Ctrl-C (pytest then runs its
teardown: `local down` of every test cluster), and after SIGTERM, before SIGKILL."""
TIMEOUT_S = 3600.0

ACCT_RECORD = struct.Struct("<BBHIIIIIIf8H16s")
"""Linux's `struct acct_v3` (include/uapi/linux/acct.h, man 5 acct): flag, version, tty, exit code, uid, gid, pid,
ppid, creation time, elapsed time (a float, in AHZ ticks), then eight comp_t counters (user and system time first,
in AHZ ticks) and the 16-byte command name. 64 bytes."""
ACCT_V3 = 3
AHZ = 100
"""The ticks per second of the accounting's times (the kernel's AHZ, 100 on Linux)."""


@dataclass(frozen=True)
class Step:
    command: str
    wall_s: float
    cpu_s: float


@dataclass(frozen=True)
class Ended:
    """One process's accounting record: the name it ended with, its CPU seconds and when it began (epoch s)."""

    name: str
    cpu_s: float
    began: float


# ---------------------------------------------------------------------------------------------- the machine's CPU


def busy_cpu_seconds(stat: str | None = None) -> float:
    """CPU seconds this machine's cores have run its own work since boot: /proc/stat's user, nice, system, irq and
    softirq (guest and guest_nice are already in user and nice). Not idle or iowait, and not steal: time a virtual
    machine's cores waited while the host ran something else."""
    fields = (stat if stat is not None else Path("/proc/stat").read_text()).splitlines()[0].split()
    assert fields[0] == "cpu", fields
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- process accounting


def comp_t(value: int) -> int:
    """A comp_t counter: 13 bits of mantissa, 3 of base-8 exponent (kernel/acct.c, encode_comp_t)."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def read_records(data: bytes) -> list[Ended]:
    ended = []
    for offset in range(0, len(data) - ACCT_RECORD.size + 1, ACCT_RECORD.size):
        fields = ACCT_RECORD.unpack_from(data, offset)
        if fields[1] != ACCT_V3:
            raise ValueError(f"an accounting record of version {fields[1]}, not {ACCT_V3} (acct_v3)")
        cpu = (comp_t(fields[10]) + comp_t(fields[11])) / AHZ
        name = fields[18].split(b"\0", 1)[0].decode(errors="replace")
        ended.append(Ended(name, cpu, float(fields[8])))
    return ended


@contextmanager
def process_accounting() -> Iterator[list[Ended] | None]:
    """Process accounting on for the block; afterwards the list holds the processes that began and ended
    meanwhile (one that began before, a kernel worker thread that ends after hours for example, would bring CPU
    that is not the block's). None when the kernel refuses (not root, no CAP_SYS_PACCT, or a kernel without BSD
    accounting). Accounting is the machine's: one that was already on is moved to this file, and is off after the
    block."""
    libc = ctypes.CDLL(None, use_errno=True)
    with tempfile.NamedTemporaryFile(prefix="suite-acct-") as file:
        if libc.acct(file.name.encode()) != 0:
            print(f"process accounting is off: acct(2) failed ({os.strerror(ctypes.get_errno())})", file=sys.stderr)
            yield None
            return
        ended: list[Ended] = []
        began = int(time.time())  # the records' start times are whole seconds
        try:
            yield ended
        finally:
            libc.acct(None)
            try:
                ended += began_since(read_records(Path(file.name).read_bytes()), began)
            except ValueError as error:  # the run's own figures still count; only the split by program is lost
                print(f"the accounting records are not read: {error}", file=sys.stderr)


def began_since(ended: list[Ended], began: float) -> list[Ended]:
    """The records of processes that began at `began` or later; prints what the others held, if anything."""
    kept = [record for record in ended if record.began >= began]
    older = [record for record in ended if record.began < began]
    if older:
        cpu = sum(record.cpu_s for record in older)
        print(f"left out: {len(older)} processes that began before the run ({cpu:.1f} CPU s)", file=sys.stderr)
    return kept


def by_program(ended: list[Ended], top: int = 12) -> list[tuple[str, float, int]]:
    """(name, CPU seconds, processes), the most CPU first; the rest summed as `other`. A record carries the name of
    the process's last thread to end, so a threaded program may be named after one of its threads."""
    cpu: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    for record in ended:
        cpu[record.name] += record.cpu_s
        count[record.name] += 1
    ranked = sorted(cpu, key=lambda name: -cpu[name])
    rows = [(name, cpu[name], count[name]) for name in ranked[:top]]
    rest = ranked[top:]
    if rest:
        rows.append(("other", sum(cpu[name] for name in rest), sum(count[name] for name in rest)))
    return rows


# ---------------------------------------------------------------------------------------------- make's commands


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc/<pid>/task/<pid>/children, else a scan of /proc)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state: the parent's pid
                children.append(int(entry.name))
    return children


def command_of(pid: int) -> str | None:
    """What make runs, as the Makefile wrote it: the script of `/bin/sh -c ...`, else the command line less the
    interpreter the kernel put before a script it ran for its `#!` line; None once the process is gone."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode(errors="replace").split("\0")
    except OSError:
        return None
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        return argv[2]
    if len(argv) >= 2 and Path(argv[0]).name.startswith("python") and _is_script(Path(f"/proc/{pid}/cwd", argv[1])):
        argv = argv[1:]
    return " ".join(argv)


def _is_script(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(2) == b"#!"
    except OSError:
        return False


@dataclass(frozen=True)
class MakeRun:
    steps: list[Step]
    """The commands make ran, in order, each from the first poll that saw it to the first that saw it gone."""
    whole: Step
    """`make <target>` from its start to its end."""

    @property
    def between(self) -> Step:
        """What no step holds: the polls that saw make with no command running (before the first, between two)."""
        wall = self.whole.wall_s - sum(step.wall_s for step in self.steps)
        cpu = self.whole.cpu_s - sum(step.cpu_s for step in self.steps)
        return Step(BETWEEN, max(wall, 0.0), max(cpu, 0.0))


BETWEEN = "(make with no command running)"


def run_make(
    target: str, repo: Path = REPO, log: Path | None = None, timeout: float = TIMEOUT_S, grace: float = STOP_GRACE_S
) -> MakeRun:
    """`make <target>` in `repo`, one command at a time, its output to `log`, followed command by command. Raises
    if make fails, or runs past `timeout` (or this process is interrupted): make's processes are then stopped as on
    Ctrl-C, so the tests take their clusters down, and killed only if they outlast `grace` (stop())."""
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    with open(log or os.devnull, "w") as out:
        started, busy_before = time.monotonic(), busy_cpu_seconds()
        argv = ["make", target]
        make = subprocess.Popen(
            argv,
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # SIGINT handled by default in make, so in what it runs, even when this script was started in the
            # background or by a pytest-xdist worker, where it is ignored and children inherit that: stop() relies on it
            preexec_fn=_interruptible,
        )
        try:
            steps = _follow(make, started + timeout)
        finally:
            stop(make, grace)
        whole = Step(f"make {target}", time.monotonic() - started, busy_cpu_seconds() - busy_before)
    if make.returncode != 0:
        where = f"; its output: {log}" if log else "; `--log FILE` keeps its output"
        raise RuntimeError(f"make {target} failed with exit code {make.returncode}{where}")
    return MakeRun(steps, whole)


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(make: subprocess.Popen, grace: float) -> None:
    """Nothing if make has ended. Else SIGINT to its process group (make is in a session of its own, so a Ctrl-C
    here never reached it), then SIGTERM, then SIGKILL, each after `grace` seconds."""
    for sent in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if make.poll() is not None:
            return
        try:
            os.killpg(make.pid, sent)
        except ProcessLookupError:
            return
        try:
            make.wait(timeout=grace if sent != signal.SIGKILL else None)
        except subprocess.TimeoutExpired:
            continue


def _follow(make: subprocess.Popen, deadline: float) -> list[Step]:
    """Poll make's child every POLL_S until make exits: each new child is a new step. Its command is the first read
    that is not make's own command line or empty (a child seen between its fork and its exec). A shell that execs
    its script's last command (bash does; Debian's /bin/sh, dash, does not) is usually gone by the first poll, and
    its command then shows without the Makefile's quotes."""
    steps: list[Step] = []
    current: list | None = None  # [pid, command, start, busy CPU at start]
    makes_own = command_of(make.pid)

    def close(now: float, busy: float) -> None:
        if current is not None:
            steps.append(Step(current[1] or "(unknown)", now - current[2], busy - current[3]))

    while make.poll() is None:
        if time.monotonic() > deadline:
            raise TimeoutError("make ran past its deadline")
        now, busy = time.monotonic(), busy_cpu_seconds()
        pid = next(iter(children_of(make.pid)), None)
        if pid != (current[0] if current else None):
            close(now, busy)
            current = [pid, None, now, busy] if pid is not None else None
        if current is not None and current[1] is None and (command := command_of(pid)) and command != makes_own:
            current[1] = command
        time.sleep(POLL_S)
    close(time.monotonic(), busy_cpu_seconds())
    return steps


# ---------------------------------------------------------------------------------------------- the report


def summary(run: MakeRun, cores: int) -> dict[str, float]:
    wall, cpu = run.whole.wall_s, run.whole.cpu_s
    return {"wall_s": wall, "cpu_s": cpu, "cores": cores, "floor_s": cpu / cores, "target_s": TARGET_S}


def _rows(steps: list[Step], between: Step, whole: Step) -> list[tuple[str, float, float, float]]:
    """(command, wall, CPU, cores busy) per step, then the time between them, then all."""
    return [(s.command, s.wall_s, s.cpu_s, s.cpu_s / s.wall_s if s.wall_s else 0.0) for s in (*steps, between, whole)]


def report(run: MakeRun, cores: int, programs: list[tuple[str, float, int]] | None) -> str:
    totals = summary(run, cores)
    lines = [f"{'command':<72} {'wall':>8} {'CPU':>8} {'cores busy':>10}"]
    for command, wall, cpu, busy in _rows(run.steps, run.between, run.whole):
        lines.append(f"{_short(command):<72} {wall:>7.1f}s {cpu:>7.1f}s {busy:>10.2f}")
    lines.append(
        f"floor on {cores} cores (CPU / cores): {totals['floor_s']:.0f} s; issue 19's target: {TARGET_S:.0f} s"
    )
    if programs:
        lines.append("CPU by program, every process that began and ended during the run (process accounting):")
        lines += [f"  {cpu:>7.1f}s {count:>6} processes  {name}" for name, cpu, count in programs]
    return "\n".join(lines)


def _short(command: str, width: int = 72) -> str:
    return command if len(command) <= width else command[: width - 3] + "..."


def readme_table(run: dict) -> str:
    """The README's table of the suite's time, from one kept run."""
    facts, totals = run["machine"], run["summary"]
    steps = [Step(**step) for step in run["steps"]]
    # The first kept run (2026-12-08T020626Z) recorded no load average at its start, and named `between` `unseen`.
    load = " ".join(str(value) for value in facts.get("load_average_at_start", ["not recorded"]))
    between = Step(**{**run.get("between", run.get("unseen")), "command": BETWEEN})
    rows = [
        f"Run {run['time']} ({facts['cores']} cores, {facts['cpu_model']}; load average at the start {load}; "
        f"`make {run['target']}` at {run['commit']}):",
        "",
        "| command | wall | CPU | cores busy |",
        "|---|---|---|---|",
    ]
    for command, wall, cpu, busy in _rows(steps, between, Step(**run["whole"])):
        shown = (f"`{command}`" if command != BETWEEN else command).replace("|", "\\|")
        rows.append(f"| {shown} | {wall:.1f} s | {cpu:.1f} s | {busy:.2f} |")
    rows += [
        "",
        f"Floor on {totals['cores']} cores (all the CPU / the cores): {totals['floor_s']:.0f} s, against issue 19's "
        f"{totals['target_s']:.0f} s.",
    ]
    if run.get("cpu_by_program"):
        rows += ["", "CPU by program (process accounting; the names as the kernel keeps them, 15 characters):", ""]
        rows += ["| program | CPU | processes |", "|---|---|---|"]
        rows += [f"| `{p['name']}` | {p['cpu_s']:.1f} s | {p['processes']} |" for p in run["cpu_by_program"]]
    return "\n".join(rows)


def write_run(run: dict, directory: Path = SUITE_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{run['time'].replace(':', '')}.json"
    path.write_text(json.dumps(run, indent=2) + "\n")
    return path


def load_run(path: Path) -> dict:
    return json.loads(path.read_text())


def latest(directory: Path = SUITE_DIR) -> Path | None:
    return runs.latest(directory)


def venv_machine_facts(repo: Path = REPO) -> dict:
    """bench.runs.machine_facts() as the venv's Python sees them (it has psutil, Airflow and Celery installed)."""
    code = "import json; from bench.runs import machine_facts; print(json.dumps(machine_facts()))"
    python = repo / ".venv" / "bin" / "python"
    result = subprocess.run([python, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def _commit(repo: Path) -> str:
    """The measured commit, `-dirty` when a tracked file differs from it."""
    argv = ["git", "describe", "--always", "--dirty", "--abbrev=7"]
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True).stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="test", help="the make target to run and measure (default: test)")
    parser.add_argument("--json", action="store_true", help=f"keep the figures in {SUITE_DIR}/<UTC time>.json")
    parser.add_argument("--log", type=Path, help="where make's output goes (default: discarded)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    with process_accounting() as ended:
        run = run_make(args.target, log=args.log)
    programs = by_program(ended) if ended is not None else None
    print(report(run, cores, programs))
    if args.json:
        kept = {
            "time": started,
            "target": args.target,
            "commit": _commit(REPO),
            "machine": {**venv_machine_facts(), "load_average_at_start": load_at_start},
            "steps": [asdict(step) for step in run.steps],
            "between": asdict(run.between),
            "whole": asdict(run.whole),
            "summary": summary(run, cores),
            "cpu_by_program": [{"name": n, "cpu_s": c, "processes": k} for n, c, k in programs or []],
        }
        print(f"kept: {write_run(kept)}")


if __name__ == "__main__":
    main()
