"""`local up`, `local status` and `local down`: the local cluster's life cycle, driven through supervisord."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from airflow_celery.cluster import CommandCheck, EnvSettings, FreshFileCheck, SecretName
from airflow_celery.cluster.limits import single_host_max_connections
from airflow_celery.cluster.roles import AUTOSCALER, MIGRATE, POSTGRES, REDIS, WATCHDOG, WORKER, Kind
from airflow_celery.local import binaries, health, postgres, supervisor
from airflow_celery.local.errors import LocalError
from airflow_celery.local.lock import state_dir_lock
from airflow_celery.local.metrics_receiver import read_metrics
from airflow_celery.local.metrics_receiver import summary as metrics_summary
from airflow_celery.local.options import UpOptions, cluster_settings, local_capacity
from airflow_celery.local.ports import check_ports_free
from airflow_celery.local.programs import (
    METRICS_RECEIVER,
    POSTGRES_TLS_PROGRAM,
    Program,
    build_programs,
    metrics_file,
)
from airflow_celery.local.state import (
    ADMIN_USERNAME,
    StatePaths,
    all_secrets,
    create_state_dir,
    load_options,
    read_secrets,
    running_as_root,
    save_options,
)
from airflow_celery.local.supervisor_conf import render_supervisord_conf

MIGRATE_TIMEOUT = 300.0
CHECK_INTERVAL = 1.0
COMMAND_CHECK_INTERVAL = 3.0
WATCH_INTERVAL = 0.5
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class LocalCluster:
    """Everything `status`, `trigger` and `down` need, rebuilt from the state dir."""

    paths: StatePaths
    options: UpOptions
    programs: list[Program]
    secrets: dict[str, str]
    base_env: dict[str, str]
    node_host: str

    @property
    def settings(self) -> EnvSettings:
        return cluster_settings(self.options, self.paths.airflow_home, self.node_host, self.paths.database_ca_file)

    def url(self, port_key: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.options.ports[port_key]}{path}"


def base_environment(paths: StatePaths) -> dict[str, str]:
    """supervisord's environment, inherited by every program: the caller's, minus any Airflow settings that
    would override the env contract, with this environment's binaries first on PATH and the state marker."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    # Every Airflow process imports thousands of modules: without bytecode caches each start compiles them
    # all again (8.8 s instead of 4.5 s for `airflow version` here). `make venv` compiles the venv; this
    # lets Python cache whatever else it imports (the project, the DAGs) instead of recompiling each time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = binaries.search_path()
    env[supervisor.STATE_MARKER_VAR] = str(paths.root)
    return env


def _programs(paths: StatePaths, options: UpOptions, node_host: str) -> list[Program]:
    settings = cluster_settings(options, paths.airflow_home, node_host, paths.database_ca_file)
    return build_programs(
        settings,
        options.workers,
        paths,
        binaries.search_path(),
        binaries.postgres_bin_dir(),
        running_as_root(),
        options.schedulers,
        single_host_max_connections(local_capacity(options)),
    )


def load_cluster(state_dir: Path) -> LocalCluster:
    paths = StatePaths(state_dir)
    options, node_host = load_options(paths)
    return LocalCluster(
        paths=paths,
        options=options,
        programs=_programs(paths, options, node_host),
        secrets=read_secrets(paths),
        base_env=base_environment(paths),
        node_host=node_host,
    )


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return f"(no log yet at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text)


def _failure(program: Program, paths: StatePaths, why: str) -> LocalError:
    log = paths.log_file(program.name)
    return LocalError(f"{program.name} {why}. Last lines of {log}:\n{log_tail(log)}")


# ----------------------------------------------------------------------------------------------- up


def preflight(options: UpOptions, paths: StatePaths, console: Console) -> None:
    """Everything that can be wrong before a single process starts."""
    binaries.postgres_bin_dir()
    binaries.redis_bin_dir()
    binaries.check_airflow_installed()
    pid = supervisor.supervisord_pid(paths)
    if pid:
        raise LocalError(
            f"a local cluster is already up in {paths.root} (supervisord pid {pid}); see `airflow-celery local "
            f"status`, or stop it with `airflow-celery local down --state-dir {paths.root}`"
        )
    if supervisor.clear_stale_socket(paths):
        console.print(f"[yellow]removed a stale supervisord socket/pid file in {paths.run} (supervisord was gone)")
    leftovers = supervisor.processes_of(paths.root)
    if leftovers:
        pids = ", ".join(str(p.pid) for p in leftovers[:10])
        raise LocalError(
            f"processes of an earlier run in {paths.root} are still alive (pids {pids}); "
            f"run `airflow-celery local down --state-dir {paths.root}` first"
        )
    check_ports_free(options.ports)
    if (paths.pgdata / "postmaster.pid").exists():
        message = postgres.clear_stale_postmaster_pid(paths)
        if message:
            console.print(f"[yellow]{message}")


def up(options: UpOptions, console: Console) -> LocalCluster:
    """Start the cluster, waiting up to `options.health_timeout` for each role's health check; one `up` at a time
    per state dir (a second one fails at once, see lock.py)."""
    with state_dir_lock(options.state_dir):
        return _up(options, console)


@contextlib.contextmanager
def running(options: UpOptions, console: Console, purge: bool = False) -> Iterator[LocalCluster]:
    """The cluster started for the `with` block and stopped when it ends, however it ends (`purge`: the state
    dir deleted too)."""
    try:
        yield up(options, console)
    finally:
        down(options.state_dir, console, purge=purge)


def _up(options: UpOptions, console: Console) -> LocalCluster:
    paths = StatePaths(options.state_dir)
    preflight(options, paths, console)
    started = time.monotonic()
    create_state_dir(paths)
    node_host = socket.gethostname()
    secrets = all_secrets(paths, options.ports)
    save_options(paths, options, node_host)
    cluster = load_cluster(paths.root)
    try:
        _start(cluster, console)
    except BaseException:
        console.print("[red]start-up failed; stopping what was started (logs stay in the state dir)")
        down(paths.root, Console(stderr=True, quiet=True))
        raise
    console.print(f"[green]all roles healthy after {time.monotonic() - started:.1f} s")
    _print_access(cluster, secrets, console)
    return cluster


def _start(cluster: LocalCluster, console: Console) -> None:
    paths, programs, health_timeout = cluster.paths, cluster.programs, cluster.options.health_timeout
    pg_bin = binaries.postgres_bin_dir()
    with console.status("initialising the PostgreSQL data dir"):
        postgres.init_data_dir(paths, pg_bin, running_as_root())
        postgres.write_server_config(paths, running_as_root())
    paths.supervisord_conf.write_text(render_supervisord_conf(programs, paths))
    supervisor.start_supervisord(paths, cluster.base_env)
    infra = [p for p in programs if p.role in (POSTGRES, REDIS)]
    _start_and_wait(cluster, infra, console, "database and broker", health_timeout, watched=infra)
    postgres.ensure_airflow_database(
        pg_bin, paths, cluster.options.ports["postgres.postgres"], cluster.secrets[SecretName.DATABASE_PASSWORD]
    )
    _run_migrate(cluster, console)
    # The sidecars start with the Airflow roles, as on ECS, where they are containers of the scheduler's task, so
    # that the watchdog's first round (its health) overlaps the roles' start-up instead of following it. The metrics
    # receiver starts first, to be listening for the roles' first metrics (UDP: what comes before is lost). The
    # autoscaler and the watchdog start last, and neither decides on half a cluster: the autoscaler counts the
    # workers just started (STARTING is up), and a task still `running` from before this start (preflight: no
    # process of the state dir was left) lost its worker either way.
    sidecars = [p for p in programs if p.role.kind is Kind.SIDECAR]
    receivers = [p for p in sidecars if p.role is METRICS_RECEIVER]
    services = [p for p in programs if p.role.kind is Kind.AIRFLOW and not _left_to_autoscaler(cluster, p)]
    services = [*receivers, *services, *(p for p in sidecars if p not in receivers)]
    remove_stale_alive_files(cluster)
    _start_and_wait(cluster, services, console, "Airflow roles and sidecars", health_timeout, watched=infra + services)


def remove_stale_alive_files(cluster: LocalCluster) -> None:
    """Remove the liveness files an earlier run left in the state dir (the workers', the watchdog's, the
    autoscaler's): after a `down` and an `up` within their max age (60-120 s), one would pass its program's
    fresh-file check before the new process's first round. No process of the state dir runs now (preflight)."""
    for program in cluster.programs:
        check = program.role.health
        if isinstance(check, FreshFileCheck):
            file = Path(check.file(program.environment(cluster.secrets, cluster.base_env)))
            if file.is_relative_to(cluster.paths.root):
                file.unlink(missing_ok=True)


def _left_to_autoscaler(cluster: LocalCluster, program: Program) -> bool:
    """A worker program above its queue's minimum: `up` defines it, the autoscaler starts it when the queue needs
    it. An extra queue's programs are `worker-<queue>-<n>` (local/programs.py)."""
    options = cluster.options
    if program.role is not WORKER:
        return False
    queue = next((q for q in options.queues if program.name.startswith(f"{WORKER.name}-{q.name}-")), None)
    if queue is not None:
        return (program.instance or 0) > queue.min_count
    return options.autoscaling and (program.instance or 0) > options.initial_workers


def _autoscaled_worker(cluster: LocalCluster, program: Program) -> bool:
    """A worker program of a queue whose workers the autoscaler starts and stops."""
    if program.role is not WORKER:
        return False
    queue = next((q for q in cluster.options.queues if program.name.startswith(f"{WORKER.name}-{q.name}-")), None)
    return queue.autoscaling if queue is not None else cluster.options.autoscaling


def _run_migrate(cluster: LocalCluster, console: Console) -> None:
    migrate = next(p for p in cluster.programs if p.role is MIGRATE)
    started = time.monotonic()
    with console.status("migrating the metadata database (airflow db migrate) and creating the admin user"):
        supervisor.start(cluster.paths, migrate.name)
        deadline = started + MIGRATE_TIMEOUT
        while True:
            info = supervisor.process_infos(cluster.paths)[migrate.name]
            if info["statename"] in ("EXITED", "FATAL", "STOPPED"):
                break
            if time.monotonic() > deadline:
                raise _failure(migrate, cluster.paths, f"did not finish in {MIGRATE_TIMEOUT:.0f} s")
            time.sleep(0.5)
    if info["statename"] != "EXITED" or info["exitstatus"] != 0:
        raise _failure(migrate, cluster.paths, f"failed ({info['statename']}, exit status {info['exitstatus']})")
    console.print(f"migrate done in {time.monotonic() - started:.1f} s")


def _start_and_wait(
    cluster: LocalCluster,
    programs: list[Program],
    console: Console,
    what: str,
    timeout: float,
    watched: Iterable[Program] = (),
) -> None:
    """Start `programs` and wait until each passes its health check.

    Fails at once, with the tail of its log, when any of them or of `watched` (programs started earlier) is
    given up on by supervisord (FATAL after its start retries) or exits: the other checks are not waited for.
    """
    for program in programs:
        try:
            supervisor.start(cluster.paths, program.name)
        except LocalError as error:  # SPAWN_ERROR: it exited during the start call itself
            raise _failure(program, cluster.paths, f"could not be started ({error})") from None
    watched = [*{p.name: p for p in [*watched, *programs]}.values()]
    stop = threading.Event()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        tasks = {p.name: bar.add_task(f"{p.name}: starting", total=1) for p in programs}

        def wait(program: Program) -> None:
            def report(text: str) -> None:
                bar.update(tasks[program.name], description=f"{program.name}: {text}")

            wait_healthy(cluster, program, report, timeout, stop)
            bar.update(tasks[program.name], completed=1, description=f"{program.name}: [green]healthy")

        pool = ThreadPoolExecutor(max_workers=len(programs), thread_name_prefix="health")
        try:
            pending = {pool.submit(wait, program) for program in programs}
            while pending:
                done, pending = wait_futures(pending, timeout=WATCH_INTERVAL, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()
                check_none_gave_up(cluster.paths, watched)
        finally:
            stop.set()  # the other checks end at their next poll; nobody waits for them
            pool.shutdown(wait=False, cancel_futures=True)
    console.print(f"{what} healthy: {', '.join(p.name for p in programs)}")


GAVE_UP_STATES = ("FATAL", "EXITED", "STOPPED")
"""supervisord states of a service that is not coming back by itself: FATAL after its start retries, EXITED
with autorestart=unexpected (a clean exit), STOPPED by someone."""


def check_none_gave_up(paths: StatePaths, programs: Iterable[Program]) -> None:
    """Raise, with the tail of its log, for the first long-running program supervisord no longer runs."""
    infos = supervisor.process_infos(paths)
    for program in programs:
        state = infos.get(program.name, {}).get("statename")
        if not program.one_shot and state in GAVE_UP_STATES:
            raise _failure(program, paths, f"is {state} instead of running")


def wait_healthy(
    cluster: LocalCluster,
    program: Program,
    report: Callable[[str], None],
    timeout: float | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Poll the description's health check until it passes (for `timeout`, by default the cluster's
    `--health-timeout`); fail fast if supervisord gave up on the process.

    Returns quietly when `stop` is set (another program failed: the caller raises for it).
    """
    stop = stop or threading.Event()
    timeout = cluster.options.health_timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last = "not checked yet"
    while time.monotonic() < deadline and not stop.is_set():
        state = supervisor.process_infos(cluster.paths)[program.name]["statename"]
        if state in GAVE_UP_STATES:
            raise _failure(program, cluster.paths, f"is {state} instead of running")
        if isinstance(program.role.health, CommandCheck) and last == "not checked yet":
            report(f"starting ({state}); checking once the machine has CPU to spare")
            spare = min(health.SPARE_CPU_MAX_WAIT, max(0.0, deadline - time.monotonic()))
            health.wait_for_spare_cpu(spare, stop=stop)
            if stop.is_set():
                return
        result = health.check_program(program, cluster.settings, cluster.secrets, cluster.base_env)
        if result.healthy:
            return
        last = result.detail
        report(f"waiting ({state}; {last})")
        # Command checks cost seconds of CPU each; HTTP checks are cheap.
        stop.wait(COMMAND_CHECK_INTERVAL if isinstance(program.role.health, CommandCheck) else CHECK_INTERVAL)
    if stop.is_set():
        return
    raise _failure(program, cluster.paths, f"was not healthy after {timeout:.0f} s (last check: {last})")


def _print_access(cluster: LocalCluster, secrets: Mapping[str, str], console: Console) -> None:
    console.print(f"UI:      {cluster.url('api-server.http', '/')}")
    console.print(f"Flower:  {cluster.url('flower.http', cluster.settings.flower_url_prefix + '/')}")
    console.print(f"Login:   {ADMIN_USERNAME} / {secrets[SecretName.ADMIN_PASSWORD]} (UI)")
    console.print(f"         {ADMIN_USERNAME} / {secrets[SecretName.FLOWER_PASSWORD]} (Flower basic auth)")
    console.print(f"Logs:    {cluster.paths.logs}/<program>.log; stop with `airflow-celery local down`")
    dags = cluster.options.dag_source
    console.print(f"DAGs:    {dags.describe() if dags.versioned else cluster.options.dags_dir}", markup=False)


# ------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ProgramStatus:
    name: str
    state: str
    pid: int | None
    healthy: bool
    detail: str


def status(state_dir: Path) -> list[ProgramStatus]:
    cluster = load_cluster(state_dir)
    if not supervisor.supervisord_pid(cluster.paths):
        return [ProgramStatus(p.name, "DOWN", None, False, "supervisord is not running") for p in cluster.programs]
    infos = supervisor.process_infos(cluster.paths)

    def one(program: Program) -> ProgramStatus:
        info = infos.get(program.name, {"statename": "UNKNOWN", "pid": 0, "exitstatus": None})
        state, pid = info["statename"], info["pid"] or None
        if program.one_shot:
            done = state == "EXITED" and info["exitstatus"] == 0
            return ProgramStatus(program.name, state, pid, done, "finished" if done else "did not finish cleanly")
        if state != "RUNNING":
            if _autoscaled_worker(cluster, program) and state in ("STOPPED", "EXITED", "STOPPING"):
                return ProgramStatus(program.name, state, pid, True, "stopped by the autoscaler (not needed now)")
            return ProgramStatus(program.name, state, pid, False, "not running")
        result = health.check_program(program, cluster.settings, cluster.secrets, cluster.base_env)
        return ProgramStatus(program.name, state, pid, result.healthy, result.detail)

    with ThreadPoolExecutor(max_workers=len(cluster.programs), thread_name_prefix="status") as pool:
        return list(pool.map(one, cluster.programs))


def metrics_line(state_dir: Path) -> str:
    """What the metrics receiver last heard from Airflow (queued, running, open slots, scheduler heartbeat)."""
    paths = StatePaths(Path(state_dir))
    if not metrics_file(paths).exists():
        return "Airflow metrics: no receiver in this cluster (started before it existed, or not yet)"
    return metrics_summary(read_metrics(metrics_file(paths)), time.time())


def status_table(rows: list[ProgramStatus]) -> Table:
    table = Table(title="airflow-celery local cluster")
    for column in ("program", "state", "pid", "health", "detail"):
        table.add_column(column)
    for row in rows:
        mark = "[green]healthy" if row.healthy else "[red]unhealthy"
        table.add_row(row.name, row.state, str(row.pid or "-"), mark, row.detail)
    return table


# --------------------------------------------------------------------------------------------- down


def down(state_dir: Path, console: Console, purge: bool = False) -> None:
    """Stop every program (Airflow first, then Redis and PostgreSQL), supervisord, then any leftover process
    of this state dir; with `purge`, delete the state dir too."""
    paths = StatePaths(Path(state_dir).expanduser().absolute())
    if purge:
        _check_purgeable(paths)
    pid = supervisor.supervisord_pid(paths)
    if pid:
        _stop_programs(paths, console)
        supervisor.shutdown_supervisord(paths, pid)
        console.print(f"supervisord (pid {pid}) stopped")
    else:
        console.print("supervisord is not running")
    _kill_leftovers(paths, console)
    remaining = supervisor.processes_of(paths.root)
    if remaining:
        raise LocalError(f"processes of {paths.root} survived SIGKILL: {[p.pid for p in remaining]}")
    console.print(f"no process of {paths.root} is left")
    supervisor.clear_stale_socket(paths)
    if purge and paths.root.exists():
        shutil.rmtree(paths.root)
        console.print(f"removed {paths.root}")


def _check_purgeable(paths: StatePaths) -> None:
    """Never delete a directory that is not a local-cluster state dir (a mistyped --state-dir)."""
    if paths.root.exists() and not paths.marker.exists():
        raise LocalError(
            f"--purge: {paths.root} is not a local-cluster state dir (it has no {paths.marker.name}, which "
            "`local up` writes); not deleting it"
        )


def _stop_programs(paths: StatePaths, console: Console) -> None:
    infos = supervisor.process_infos(paths)
    by_priority: dict[bool, list[str]] = {True: [], False: []}
    for name, info in infos.items():
        by_priority[info["group"] in (POSTGRES.name, POSTGRES_TLS_PROGRAM, REDIS.name)].append(name)
    try:
        programs = load_cluster(paths.root).programs
        wait = max(p.stopwaitsecs for p in programs) + 10
    except (LocalError, ValueError, KeyError):  # a damaged cluster.json must not keep `down` from stopping
        wait = 130
    # The sidecars first: the autoscaler must not start a worker while the workers are being stopped.
    sidecars = [name for name in by_priority[False] if infos[name]["group"] in (AUTOSCALER.name, WATCHDOG.name)]
    if sidecars:
        supervisor.stop_and_wait(paths, sidecars, 30)
    _terminate_worker_groups(infos)
    for infra, names in ((False, [n for n in by_priority[False] if n not in sidecars]), (True, by_priority[True])):
        with console.status(f"stopping {', '.join(names)}"):
            left = supervisor.stop_and_wait(paths, names, wait if not infra else 40)
        if left:
            console.print(f"[yellow]still stopping after the wait: {', '.join(left)} (killed below)")


def _terminate_worker_groups(infos: dict[str, dict]) -> None:
    """`down` stops everything now: SIGTERM to each worker's whole process group, so running tasks end at once
    instead of the warm shutdown a worker program's own stop signal starts (stopasgroup=false, for scale-in)."""
    for name, info in infos.items():
        if name.startswith(f"{WORKER.name}-") and info.get("pid"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                _signal_group(os.getpgid(info["pid"]), signal.SIGTERM)


def _kill_leftovers(paths: StatePaths, console: Console, timeout: float = 10.0) -> None:
    leftovers = supervisor.processes_of(paths.root)
    if not leftovers:
        return
    own_group = os.getpgid(0)
    groups = set()
    for process in leftovers:
        try:
            groups.add(os.getpgid(process.pid))
        except ProcessLookupError:
            continue
    groups.discard(own_group)
    console.print(f"[yellow]stopping {len(leftovers)} leftover process(es) in group(s) {sorted(groups)}")
    for group in groups:
        _signal_group(group, signal.SIGTERM)
    if not supervisor.wait_gone([p.pid for p in leftovers], timeout):
        for group in groups:
            _signal_group(group, signal.SIGKILL)
        for process in supervisor.processes_of(paths.root):
            with contextlib.suppress(psutil.Error):  # it may have exited meanwhile
                process.kill()
        supervisor.wait_gone([p.pid for p in leftovers], 5)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
