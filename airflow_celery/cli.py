"""The `airflow-celery` command: the local cluster (`local up|status|info|trigger|logs|airflow|down`), plan, compose."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from airflow_celery.cluster.limits import MIN_HEARTBEAT_INTERVAL_SECONDS, SCHEDULER_IDLE_SLEEP_SECONDS
from airflow_celery.cluster.reliability import DEFAULT_TASK_RETRY_DELAY_SECONDS, WATCHDOG_INTERVAL
from airflow_celery.console import cli_console
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import DEFAULT_HEALTH_TIMEOUT, HEALTH_TIMEOUT_RANGE

DEFAULT_STATE_DIR = Path(".state/local")
DEFAULT_DAGS_DIR = Path("dags")

console = cli_console()
error_console = cli_console(stderr=True)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A LocalError is the user's to fix: show its message, no traceback, exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LocalError as error:
            error_console.print("[red]error:[/red]", escape(str(error)), markup=True, highlight=False, soft_wrap=True)
            sys.exit(1)

    return wrapper


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Directory holding the cluster's secrets, logs, database and supervisord files.",
)


@click.group()
@click.version_option(package_name="airflow-celery")
def main() -> None:
    """Apache Airflow 3 with the CeleryExecutor: on AWS ECS Fargate (Pulumi) and locally as processes."""


@main.group()
def local() -> None:
    """The cluster on this machine: PostgreSQL, Redis and every Airflow role as supervised processes."""


@local.command()
@click.option(
    "--workers",
    default="2",
    show_default=True,
    help="Celery workers: N (1-8, fixed) or MIN:MAX (0-8, autoscaled with the queue, like ECS).",
)
@click.option(
    "--scale-in-cooldown",
    type=int,
    default=60,
    show_default=True,
    help="With --workers MIN:MAX: seconds a lower count must be wanted before a worker stops (5-3600).",
)
@click.option("--concurrency", type=int, default=4, show_default=True, help="Task slots per worker (1-64).")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME=MIN:MAX[:CONCURRENCY]",
    help="Another worker queue with its own workers, e.g. --queue heavy=0:2:1 (repeatable); --workers and "
    "--concurrency are the default queue's. Autoscaled when MIN < MAX.",
)
@click.option(
    "--schedulers",
    type=int,
    default=1,
    show_default=True,
    help="Schedulers (1-4); several run side by side on PostgreSQL, each with its own health port.",
)
@state_dir_option
@click.option(
    "--dags-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DAGS_DIR,
    show_default=True,
    help="Folder with the DAG files (the default DAG source, like DAGs baked into the image).",
)
@click.option(
    "--dags-git",
    metavar="PATH_OR_URL",
    help="Read DAGs from this git repository instead (Airflow's versioned GitDagBundle): a local bare repository "
    "path or a URL. Each commit becomes a DAG version; new runs pick it up within the refresh interval.",
)
@click.option("--dags-ref", metavar="BRANCH", help="With --dags-git: the branch or tag to follow (default main).")
@click.option("--dags-subdir", metavar="FOLDER", help="With --dags-git: the folder in the repository with the DAGs.")
@click.option(
    "--dags-s3",
    metavar="BUCKET[/PREFIX]",
    help="Read DAGs from this bucket instead (our versioned S3 bundle: one version per `dags push`), on the S3 "
    "server of --dags-s3-endpoint; a bucket with no version yet gets --dags-dir pushed as its first.",
)
@click.option("--dags-s3-endpoint", metavar="URL", help="With --dags-s3: the S3-compatible server, e.g. moto's.")
@click.option(
    "--dags-refresh-interval",
    type=int,
    metavar="SECONDS",
    help="With --dags-git: seconds between fetches (5-3600, default 30).",
)
@click.option(
    "--notify-sns",
    metavar="TOPIC_ARN",
    help="Announce failed DAG runs on this SNS topic (the dag-processor publishes, as dagFailureNotifications does "
    "on AWS), on the SNS-compatible server of --notify-sns-endpoint.",
)
@click.option("--notify-sns-endpoint", metavar="URL", help="With --notify-sns: the SNS-compatible server, e.g. moto's.")
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="KEY=NUMBER",
    help="Override a port, e.g. --port api-server.http=18080 (keys: postgres.postgres, redis.redis, "
    "api-server.http, scheduler.health, flower.http).",
)
@click.option(
    "--health-timeout",
    type=int,
    default=DEFAULT_HEALTH_TIMEOUT,
    show_default=True,
    help=f"Seconds to wait for each role's health check "
    f"({HEALTH_TIMEOUT_RANGE.start}-{HEALTH_TIMEOUT_RANGE.stop - 1}).",
)
@click.option(
    "--watchdog-interval",
    type=int,
    default=WATCHDOG_INTERVAL,
    show_default=True,
    help="Seconds between the watchdog's rounds (2-60); a lost worker's tasks are retried sooner with fewer.",
)
@click.option(
    "--task-retry-delay",
    type=int,
    default=DEFAULT_TASK_RETRY_DELAY_SECONDS,
    show_default=True,
    help="Seconds between the tries of a task that sets no retry_delay ([core] default_task_retry_delay).",
)
@click.option(
    "--scheduler-idle-sleep",
    type=float,
    default=SCHEDULER_IDLE_SLEEP_SECONDS,
    show_default=True,
    help="Seconds an idle scheduler loop sleeps ([scheduler] scheduler_idle_sleep_time, 0.1-5); longer costs less "
    "CPU and refills a freed slot later.",
)
@click.option(
    "--heartbeat-interval",
    type=int,
    default=MIN_HEARTBEAT_INTERVAL_SECONDS,
    show_default=True,
    help="Seconds between a running task's heartbeats ([workers] min_heartbeat_interval, 1-5); a lost worker's "
    "tasks go stale after 6 of them, or 3 watchdog rounds if longer.",
)
@friendly_errors
def up(
    workers: str,
    scale_in_cooldown: int,
    concurrency: int,
    schedulers: int,
    state_dir: Path,
    dags_dir: Path,
    dags_git: str | None,
    dags_ref: str | None,
    dags_subdir: str | None,
    dags_s3: str | None,
    dags_s3_endpoint: str | None,
    dags_refresh_interval: int | None,
    ports: tuple[str, ...],
    health_timeout: int,
    watchdog_interval: int,
    task_retry_delay: int,
    scheduler_idle_sleep: float,
    heartbeat_interval: int,
    queues: tuple[str, ...] = (),
    notify_sns: str | None = None,
    notify_sns_endpoint: str | None = None,
) -> None:
    """Start the cluster and wait until every role is healthy."""
    from airflow_celery.local.dag_source import local_dag_source, prepare_s3
    from airflow_celery.local.options import validate_up_options
    from airflow_celery.local.runner import up as run_up

    source = local_dag_source(dags_git, dags_ref, dags_subdir, dags_refresh_interval, dags_s3, dags_s3_endpoint)
    options = validate_up_options(
        workers, concurrency, state_dir, dags_dir, ports, health_timeout, schedulers, scale_in_cooldown,
        watchdog_interval, task_retry_delay, source, queues, notify_sns, notify_sns_endpoint, scheduler_idle_sleep,
        heartbeat_interval,
    )  # fmt: skip
    if source.kind == "s3":
        prepare_s3(source, options.dags_dir, console.print)
    run_up(options, console)


@local.command()
@state_dir_option
@friendly_errors
def status(state_dir: Path) -> None:
    """Each program's supervisor state, pid and health check; exits 1 if anything is down or unhealthy."""
    from airflow_celery.local.info import access_lines
    from airflow_celery.local.runner import metrics_line, status_table
    from airflow_celery.local.runner import status as run_status

    root = state_dir.expanduser().absolute()
    rows = run_status(root)
    console.print(status_table(rows))
    console.print(metrics_line(root), markup=False, highlight=False, soft_wrap=True)
    for line in access_lines(root):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not all(row.healthy for row in rows):
        sys.exit(1)


@local.command()
@click.argument("dag_id")
@click.option(
    "--logical-date",
    metavar="ISO|now|none",
    help="The run's logical date. Default: what Airflow's UI trigger form sends, the current time to the second "
    "(none for a DAG with a partitioned timetable), so templates with ds/logical_date render. An ISO date needs a "
    "time zone (2026-12-06T10:00:00+00:00 or ...Z); `none` creates a run without one (`ds` then fails to render).",
)
@click.option("--conf", metavar="JSON", help="The run's conf, a JSON object; DAG params read it: --conf '{\"x\": 1}'.")
@click.option(
    "--conf-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the conf (a JSON object) from this file instead.",
)
@click.option("--run-id", help="The run's id (letters, digits, _ . ~ : + -); default: Airflow's manual__<date>.")
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Follow the run until it ends; for failed tasks, print the last lines of their log.",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True, help="Seconds to wait.")
@state_dir_option
@friendly_errors
def trigger(
    dag_id: str,
    logical_date: str | None,
    conf: str | None,
    conf_file: Path | None,
    run_id: str | None,
    wait: bool,
    timeout: float,
    state_dir: Path,
) -> None:
    """Unpause and trigger DAG_ID through the REST API, as the UI's trigger form does; with --wait, print task
    starts/ends, the makespan and the failed tasks' logs; exit 1 unless the run succeeded."""
    from airflow_celery.local.trigger import trigger_dag
    from airflow_celery.local.trigger_options import trigger_options

    options = trigger_options(logical_date, conf, conf_file, run_id)
    result = trigger_dag(state_dir.expanduser().absolute(), dag_id, wait, timeout, console, options)
    if result is not None and result.state != "success":
        sys.exit(1)


@local.command()
@click.argument("dag_id")
@click.argument("run_id", required=False)
@click.argument("task_id", required=False)
@click.option("--try", "try_number", type=click.IntRange(min=1), help="The try to show (default: the latest).")
@click.option("--follow", is_flag=True, help="Keep printing new lines until the try ends.")
@state_dir_option
@friendly_errors
def logs(dag_id: str, run_id: str | None, task_id: str | None, try_number: int | None, follow: bool, state_dir: Path):
    """Print a task's log through the REST API. Default: the latest run of DAG_ID and its failed tasks.
    TASK_ID `t` shows every map index of a mapped task, `t[3]` one. Pass RUN_ID `latest` to name a task of the
    latest run."""
    from airflow_celery.local.logs import LogRequest, show_logs
    from airflow_celery.local.trigger import api_for

    request = LogRequest(dag_id, None if run_id == "latest" else run_id, task_id, try_number, follow)
    api = api_for(state_dir.expanduser().absolute())
    try:
        show_logs(api, request, lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    finally:
        api.close()


@local.command(
    name="airflow",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@state_dir_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@friendly_errors
def airflow_command(state_dir: Path, args: tuple[str, ...]) -> None:
    """Run `airflow ARGS...` against this cluster (like docker-compose's airflow-cli service), with the scheduler's
    environment and secrets read from the state dir, never from the command line. Options for airflow-celery
    (--state-dir) come first; `airflow-celery local airflow -- --help` shows Airflow's own help."""
    from airflow_celery.local.airflow_cli import run_airflow

    code = run_airflow(state_dir.expanduser().absolute(), args)
    if code != 0:
        error_console.print(
            f"airflow {' '.join(args[:2])} exited with code {code}; Airflow's output is above (some commands answer "
            "with the code: `dags list-import-errors` exits 1 when it lists errors). "
            f"`airflow-celery local airflow {' '.join(args[:2])} --help` shows the command's options; "
            "if it could not reach the database, check the cluster with `airflow-celery local status`",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    sys.exit(code)


@local.command()
@click.option("--show-passwords", is_flag=True, help="Print the passwords themselves, not where they are.")
@state_dir_option
@friendly_errors
def info(show_passwords: bool, state_dir: Path) -> None:
    """The UI and Flower URLs, the logins and where their passwords are kept."""
    from airflow_celery.local.info import access_lines
    from airflow_celery.local.state import StatePaths, read_secrets

    root = state_dir.expanduser().absolute()
    secrets = read_secrets(StatePaths(root)) if show_passwords else None
    for line in access_lines(root, show_passwords, secrets):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@local.command()
@click.option(
    "--retention-days",
    type=int,
    default=30,
    show_default=True,
    help="Days of history to keep: `airflow db clean` drops older runs, task instances, XComs, logs, jobs and "
    "Celery results (1-3650), like the component's scheduled housekeeping task.",
)
@state_dir_option
@friendly_errors
def clean(retention_days: int, state_dir: Path) -> None:
    """Prune the metadata database: rows older than --retention-days go, the latest run of each DAG stays."""
    from airflow_celery.local.clean import clean as run_clean

    run_clean(state_dir.expanduser().absolute(), retention_days)


@local.command()
@click.option("--purge", is_flag=True, help="Also delete the state dir (database, logs, secrets): a clean slate.")
@state_dir_option
@friendly_errors
def down(purge: bool, state_dir: Path) -> None:
    """Stop every process of the cluster (and nothing else)."""
    from airflow_celery.local.runner import down as run_down

    run_down(state_dir.expanduser().absolute(), console, purge=purge)


@main.command()
@click.argument("stack", default="dev")
@click.option(
    "--config",
    "config_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="A stack config value on top of Pulumi.<STACK>.yaml, e.g. --config workerCount=3 or "
    "--config aws:region=eu-west-1 (VALUE is read as YAML, as in a stack file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("."),
    show_default=True,
    help="The directory holding Pulumi.yaml and the stack files.",
)
def plan(stack: str, config_items: tuple[str, ...], as_json: bool, project_dir: Path) -> None:
    """What `pulumi up -s STACK` would create and what it would cost a month, offline (no AWS account needed)."""
    import json

    from airflow_celery.aws.args import ConfigError
    from airflow_celery.plan import PlanError, make_plan
    from airflow_celery.plan.render import print_plan, to_json

    try:
        result = make_plan(project_dir, stack, config_items)
    except (ConfigError, PlanError) as error:
        error_console.print("[red]error:[/red]", escape(str(error)), markup=True, highlight=False, soft_wrap=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(to_json(result), indent=2))
    else:
        print_plan(result, console)


@main.group()
def dags() -> None:
    """Ship DAGs without an image build: `dags push` to a stack whose DAG source is s3."""


@dags.command("push")
@click.argument("stack", default="local")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DAGS_DIR,
    show_default=True,
    help="The folder to push (validated first: nothing is uploaded if a file does not import).",
)
@state_dir_option
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("."),
    show_default=True,
    help="For a Pulumi STACK: the directory holding Pulumi.yaml and the stack files.",
)
@friendly_errors
def dags_push(stack: str, folder: Path, state_dir: Path, project_dir: Path) -> None:
    """Validate --dir with Airflow, upload it as one new version and print that version. STACK `local` is the
    local cluster of --state-dir (started with --dags-s3); any other is a Pulumi stack with dagSource s3 (its
    bucket from the stack, your AWS credentials)."""
    from airflow_celery.bundles.push import PushError, push
    from airflow_celery.local.dag_source import s3_client
    from airflow_celery.local.state import StatePaths, load_options

    if stack == "local":
        options, _ = load_options(StatePaths(state_dir.expanduser().absolute()))
        source = options.dag_source
        if source.kind != "s3":
            raise LocalError(
                f"the local cluster in {state_dir} reads its DAGs from {source.kind}, not s3: start it with "
                "`local up --dags-s3 BUCKET --dags-s3-endpoint URL`"
            )
        client, bucket, prefix, interval = s3_client(source), source.bucket, source.prefix, source.refresh_interval
    else:
        import boto3

        from airflow_celery.aws.dags_push import stack_dags

        found = stack_dags(project_dir, stack)
        client, bucket, prefix, interval = boto3.client("s3"), found.bucket, found.prefix, found.refresh_interval
    with console.status(f"validating {folder} with Airflow"):
        try:
            version, dag_ids = push(folder.expanduser().absolute(), client, bucket, prefix)
        except PushError as error:
            raise LocalError(str(error)) from None
    console.print(f"pushed {folder} ({len(dag_ids)} DAGs) to s3://{bucket}/{prefix}", markup=False)
    console.print(f"version: {version}", markup=False)
    console.print(
        f"new runs use it once the dag-processor has refreshed (every {interval} s) and parsed it; "
        "runs already started keep their version",
        markup=False,
    )


@main.group()
def compose() -> None:
    """docker-compose helpers."""


@compose.command("env-file")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@friendly_errors
def env_file(path: Path) -> None:
    """Write the .env file docker-compose.yaml reads (generated secrets, mode 0600)."""
    from airflow_celery.compose import ComposeError, write_env_file

    try:
        write_env_file(path)
    except ComposeError as error:
        raise LocalError(str(error)) from None
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
