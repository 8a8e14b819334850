"""bench/suite.py: `make` followed command by command, the machine's CPU, process accounting's records, and the
README's table of the suite's time from the latest kept run.

The accounting syscall itself is not called here: it is system-wide, and a test switching it off would end the
accounting of a `python -m bench.suite` that is measuring this very test run."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

import pytest

from bench import suite

README = Path(__file__).resolve().parents[2] / "README.md"
SUITE_START, SUITE_END = "<!-- suite-table:start -->", "<!-- suite-table:end -->"


class AcctV3(ctypes.Structure):
    """`struct acct_v3` as include/uapi/linux/acct.h declares it, laid out by ctypes with C's alignment rules."""

    _fields_ = [
        ("ac_flag", ctypes.c_char),
        ("ac_version", ctypes.c_char),
        ("ac_tty", ctypes.c_uint16),
        ("ac_exitcode", ctypes.c_uint32),
        ("ac_uid", ctypes.c_uint32),
        ("ac_gid", ctypes.c_uint32),
        ("ac_pid", ctypes.c_uint32),
        ("ac_ppid", ctypes.c_uint32),
        ("ac_btime", ctypes.c_uint32),
        ("ac_etime", ctypes.c_float),
        ("ac_utime", ctypes.c_uint16),  # comp_t
        ("ac_stime", ctypes.c_uint16),
        ("ac_mem", ctypes.c_uint16),
        ("ac_io", ctypes.c_uint16),
        ("ac_rw", ctypes.c_uint16),
        ("ac_minflt", ctypes.c_uint16),
        ("ac_majflt", ctypes.c_uint16),
        ("ac_swaps", ctypes.c_uint16),
        ("ac_comm", ctypes.c_char * 16),  # ACCT_COMM
    ]


def _record(name: bytes, utime: int, stime: int, btime: int, version: int = 3) -> bytes:
    record = AcctV3(ac_version=bytes([version]), ac_btime=btime, ac_utime=utime, ac_stime=stime, ac_comm=name)
    return bytes(record)


def test_the_record_layout_is_the_kernels_acct_v3():
    assert ctypes.sizeof(AcctV3) == suite.ACCT_RECORD.size == 64


def test_records_give_each_process_its_name_cpu_and_start():
    # comp_t: 13 bits of mantissa, 3 of base-8 exponent: (1 << 13) | 300 is 300 * 8 ticks
    data = _record(b"airflow", 250, 50, 1_700_000_000) + _record(b"postgres", (1 << 13) | 300, 0, 1_700_000_001)
    ended = suite.read_records(data)
    assert ended == [suite.Ended("airflow", 3.0, 1_700_000_000.0), suite.Ended("postgres", 24.0, 1_700_000_001.0)]


def test_only_the_processes_that_began_during_the_run_count(capsys):
    """A kernel worker thread that ends during the run brings the CPU of its hours before it."""
    ended = [suite.Ended("kworker/1:1H", 19.4, 999.0), suite.Ended("airflow", 2.0, 1000.0)]
    assert suite.began_since(ended, 1000) == [suite.Ended("airflow", 2.0, 1000.0)]
    assert "left out: 1 processes that began before the run (19.4 CPU s)" in capsys.readouterr().err


def test_a_record_of_another_version_is_refused():
    with pytest.raises(ValueError, match="version 2"):
        suite.read_records(_record(b"x", 1, 1, 1, version=2))


def test_by_program_sums_each_name_the_most_cpu_first_and_the_rest_as_other():
    ended = [suite.Ended(name, cpu, 0.0) for name, cpu in (("a", 1.0), ("b", 5.0), ("a", 2.0), ("c", 0.5))]
    assert suite.by_program(ended, top=2) == [("b", 5.0, 1), ("a", 3.0, 2), ("other", 0.5, 1)]


def test_busy_cpu_is_all_but_idle_iowait_and_steal():
    ticks = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat = f"cpu  {ticks * 10} {ticks * 2} {ticks * 5} {ticks * 100} {ticks * 7} {ticks} {ticks} {ticks * 9} 3 4\n"
    assert suite.busy_cpu_seconds(stat + "cpu0 1 2 3 4 5 6 7 8 9 10\n") == 19.0


def test_make_is_followed_command_by_command_with_each_ones_wall_and_cpu(tmp_path):
    spin_for = "import time; end = time.process_time() + 0.6; any(iter(lambda: time.process_time() >= end, True))"
    busy = f'{sys.executable} -c "{spin_for}"'
    (tmp_path / "Makefile").write_text(f"all:\n\tsleep 1\n\t{busy}\n")
    run = suite.run_make("all", repo=tmp_path, timeout=60)
    assert [step.command for step in run.steps] == ["sleep 1", busy]
    sleep, spin = run.steps
    # A step is seen at the first poll after it starts and after it ends: its figures are known to a poll or so,
    # more on a loaded machine.
    assert 0.5 <= sleep.wall_s <= 5.0
    assert spin.cpu_s >= 0.3 and run.whole.cpu_s >= 0.6


def test_a_script_make_runs_directly_is_shown_as_the_makefile_wrote_it_not_with_its_interpreter(tmp_path):
    """No quotes, so make runs the line itself, and the kernel puts the `#!` line's Python before the script."""
    script = tmp_path / "tool"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(0.8)\n")
    script.chmod(0o755)
    (tmp_path / "Makefile").write_text("all:\n\t./tool --flag x\n")
    run = suite.run_make("all", repo=tmp_path, timeout=60)
    assert [step.command for step in run.steps] == ["./tool --flag x"]


def test_a_make_past_its_timeout_is_stopped_as_on_ctrl_c_so_the_tests_tear_down(tmp_path):
    tore_down = tmp_path / "tore-down"
    script = f"import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    open({str(tore_down)!r}, 'w')\n"
    (tmp_path / "teardown.py").write_text(script)
    (tmp_path / "Makefile").write_text(f"all:\n\t{sys.executable} teardown.py\n")
    # Ignored here, as in a job started in the background, and inherited by what this process starts: make must
    # still get it as Ctrl-C.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(TimeoutError):
            suite.run_make("all", repo=tmp_path, timeout=1.5, grace=20)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert tore_down.exists()


def test_a_failing_make_is_an_error_that_says_where_its_output_is(tmp_path):
    (tmp_path / "Makefile").write_text("all:\n\texit 3\n")
    with pytest.raises(RuntimeError, match=r"make all failed with exit code 2; its output: .*make\.log"):
        suite.run_make("all", repo=tmp_path, log=tmp_path / "make.log", timeout=60)
    assert "Error 3" in (tmp_path / "make.log").read_text()


def test_the_readme_shows_the_latest_kept_run_of_make_test():
    latest = suite.latest()
    assert latest is not None, "bench/runs/suite/ holds no run: `python3 -m bench.suite --json` from a fresh clone"
    text = README.read_text()
    assert SUITE_START in text and SUITE_END in text, f"README.md has no {SUITE_START} ... {SUITE_END} block"
    shown = text.split(SUITE_START, 1)[1].split(SUITE_END, 1)[0].strip()
    assert shown == suite.readme_table(suite.load_run(latest))
