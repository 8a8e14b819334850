"""Running a role's health check from the cluster description against a local process."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import psutil

from airflow_celery.cluster import CommandCheck, EnvSettings, HttpCheck
from airflow_celery.local.programs import Program

# A command check starts a Python that imports Airflow or Celery (seconds of CPU each): on a small machine,
# checks run all at once would starve the very processes they wait for.
COMMAND_CHECK_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 2))
# Command checks wait until at least this share of the machine's CPU is idle, or this long at most.
SPARE_CPU_PERCENT = 50.0
SPARE_CPU_MAX_WAIT = 45.0


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    detail: str


def http_check(check: HttpCheck, port: int) -> HealthResult:
    """Every path of the check must answer 2xx; the first failure is the result."""
    for path in check.paths:
        url = f"http://127.0.0.1:{port}{path}"
        try:
            # Plain HTTP on 127.0.0.1, no TLS to verify: without verify=False every call loads the CA bundle into
            # a new SSL context, 20 ms of CPU against 1 ms (2026-12-07), once a second per role during `local up`.
            response = httpx.get(url, timeout=check.timeout, verify=False)
        except httpx.HTTPError as error:
            return HealthResult(False, f"GET {url}: {type(error).__name__}")
        if not response.is_success:
            return HealthResult(False, f"GET {url}: {response.status_code}")
    return HealthResult(True, f"GET {', '.join(check.paths)}: 2xx")


def command_check(check: CommandCheck, env: Mapping[str, str], timeout: float | None = None) -> HealthResult:
    """`sh -c` the check in the role's environment, in its own process group so a timeout kills all of it."""
    limit = timeout or check.timeout
    with (
        COMMAND_CHECK_SLOTS,
        subprocess.Popen(
            ["sh", "-c", check.shell],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
        ) as process,
    ):
        try:
            output, _ = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return HealthResult(False, f"timed out after {limit:.0f} s")
    last_line = (output or "").strip().splitlines()[-1:] or [""]
    return HealthResult(process.returncode == 0, f"exit {process.returncode} {last_line[0][:100]}".strip())


def wait_for_spare_cpu(
    timeout: float = SPARE_CPU_MAX_WAIT, sample: float = 1.0, stop: threading.Event | None = None
) -> bool:
    """Wait until the machine has CPU to spare, i.e. the roles being started are done importing.

    A command check costs seconds of CPU (a Python importing Airflow or Celery). Run while every role is
    still starting, each failing attempt takes CPU from the roles it waits for: on 2 cores the checks
    used more CPU than the roles themselves. Returns False if the machine stayed busy for `timeout` s, or
    when `stop` was set.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        if psutil.cpu_percent(interval=sample) < SPARE_CPU_PERCENT:
            return True
    return False


def check_program(
    program: Program, settings: EnvSettings, secret_values: Mapping[str, str], base_env: Mapping[str, str]
) -> HealthResult:
    """The description's check for this program's role; a role without one counts as healthy when running."""
    check = program.role.health
    if isinstance(check, HttpCheck):
        return http_check(check, settings.port(program.role.name, check.port, program.instance))
    if isinstance(check, CommandCheck):
        return command_check(check, program.environment(secret_values, base_env))
    return HealthResult(True, "no health check")
