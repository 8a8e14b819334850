"""`python -m airflow_celery.flower`: Flower on the cluster's broker, configured by the `[celery]` variables that
`airflow celery flower` reads, without importing Airflow.

Airflow's command (the celery provider's cli/celery_command.py, `flower`) builds Airflow's Celery app and runs
`celery flower` in-process with `--address`, `--port` and, when set, `--url-prefix` and `--basic-auth`, read from
`[celery] flower_host`, `flower_port`, `flower_url_prefix` and `flower_basic_auth`. Flower uses that app for the
broker (events and remote control: its pages and API) and reads five of its settings (`task_default_queue` and
`task_queues`, the queues its broker page shows when no worker is up; `broker_transport_options` and
`broker_use_ssl` for that page; `timezone`). Importing Airflow for that cost the Flower process 80 MiB of its 130
(PSS, a local cluster at idle, 2026-12-07) and about 2 CPU seconds at each start. This module reads the same
variables, which the env contract gives Flower (cluster/env.py), builds a Celery app whose settings equal those of
Airflow's app except the ones only workers and the result backend read, and starts Flower the same way: in this
process, so the basic-auth credential is in no command line. tests/test_flower_airflow.py compares both apps,
setting by setting, with the pinned provider.

What differs from `airflow celery flower`, on purpose or as a consequence:
- Airflow's `execute_workload` task is not registered in this app: Flower's `/api/task/apply` and
  `/api/task/async-apply` answer "Unknown task" for it (`/api/task/send-task` still sends by name). Running Airflow
  tasks by hand through Flower bypasses the scheduler anyway.
- `/api/task/result` reads no result either way: Flower gets no result-backend secret (cluster/env.py,
  ROLE_SECRETS).
- Flower's own log format (tornado's `[I yymmdd hh:mm:ss module:line] ...`, on stderr) instead of Airflow's, and
  no Airflow SIGQUIT stack dump.
- Extra arguments of the container's command are Flower options (`--max_tasks=...`), not `airflow celery flower`'s.
- Only environment variables are read: an `airflow.cfg` (the image ships none) is not. An Airflow option that would
  change the app and that this module does not carry over (`[celery] ssl_active` turned on, `extra_celery_config`,
  `celery_config_options`, another transport option, a `_CMD` or `_SECRET` variant of the broker URL or the basic
  auth) is refused by name rather than ignored.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

# The variable names below are the env contract's (cluster/env.py), written here again on purpose: importing
# airflow_celery.cluster would load the whole description into Flower's process for four names.
# tests/test_flower.py checks they are the contract's.
BROKER_URL_VAR = "AIRFLOW__CELERY__BROKER_URL"
BASIC_AUTH_VAR = "AIRFLOW__CELERY__FLOWER_BASIC_AUTH"
DEFAULT_QUEUE_VAR = "AIRFLOW__OPERATORS__DEFAULT_QUEUE"
AIRFLOW_DEFAULT_QUEUE = "default"
"""`[operators] default_queue` when the variable is not set (Airflow's config.yml)."""
FLOWER_OPTIONS = (
    ("AIRFLOW__CELERY__FLOWER_HOST", "--address", "0.0.0.0"),
    ("AIRFLOW__CELERY__FLOWER_PORT", "--port", "5555"),
    ("AIRFLOW__CELERY__FLOWER_URL_PREFIX", "--url-prefix", ""),
    (BASIC_AUTH_VAR, "--basic-auth", ""),
)
"""(variable, Flower option, the provider's default): an option whose value is empty is not passed, as Airflow's
command passes `--url-prefix` and `--basic-auth` only when set (it always passes the address and the port)."""
TRANSPORT_OPTIONS_PREFIX = "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__"
VISIBILITY_TIMEOUT_VAR = f"{TRANSPORT_OPTIONS_PREFIX}VISIBILITY_TIMEOUT"
"""The one transport option the env contract sets (every role gets it), carried over as Airflow's app has it."""
SSL_ACTIVE_VAR = "AIRFLOW__CELERY__SSL_ACTIVE"
REFUSED = (
    "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG",
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS",
    *(f"{variable}{suffix}" for variable in (BROKER_URL_VAR, BASIC_AUTH_VAR) for suffix in ("_CMD", "_SECRET")),
)
"""Set, each would change Airflow's app. `_CMD` and `_SECRET` are read only for sensitive options, of which Flower
has these two (Airflow's config.yml, `sensitive: true`)."""
APP_NAME = "airflow-celery-flower"


class FlowerConfigError(ValueError):
    """A variable this Flower cannot honour, or a missing broker URL."""


def celery_config(env: Mapping[str, str]) -> dict[str, object]:
    """The Celery settings Flower reads, with the values Airflow's app would have for this environment."""
    _refuse_what_is_not_carried_over(env)
    broker_url = env.get(BROKER_URL_VAR)
    if not broker_url:
        raise FlowerConfigError(f"{BROKER_URL_VAR} is not set: Flower needs the cluster's broker URL")
    queue = env.get(DEFAULT_QUEUE_VAR) or AIRFLOW_DEFAULT_QUEUE
    config: dict[str, object] = {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "task_default_exchange": queue,
        "accept_content": ["json"],
        "event_serializer": "json",
    }
    if env.get(VISIBILITY_TIMEOUT_VAR):
        config["broker_transport_options"] = {"visibility_timeout": _seconds(env[VISIBILITY_TIMEOUT_VAR])}
    return config


def _seconds(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FlowerConfigError(f"{VISIBILITY_TIMEOUT_VAR}={value!r}: a whole number of seconds") from None


def flower_argv(env: Mapping[str, str]) -> list[str]:
    """`celery flower`'s arguments, as Airflow's command builds them."""
    argv = ["flower"]
    for variable, option, default in FLOWER_OPTIONS:
        value = env.get(variable, default)
        if value:
            argv.append(f"{option}={value}")
    return argv


def _refuse_what_is_not_carried_over(env: Mapping[str, str]) -> None:
    offending = [variable for variable in REFUSED if variable in env]
    offending += [v for v in env if v.startswith(TRANSPORT_OPTIONS_PREFIX) and v != VISIBILITY_TIMEOUT_VAR]
    if env.get(SSL_ACTIVE_VAR, "").strip().lower() in ("true", "t", "1"):  # Airflow's getboolean
        offending.append(SSL_ACTIVE_VAR)
    if offending:
        raise FlowerConfigError(f"{offending[0]} is set, and airflow_celery.flower does not carry it over to Flower")


def main(extra: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """`extra`: further Flower options, after ours (the entrypoint passes a container command's arguments on)."""
    extra = sys.argv[1:] if extra is None else extra
    env = os.environ if env is None else env
    try:
        config, argv = celery_config(env), [*flower_argv(env), *extra]
    except FlowerConfigError as error:
        print(f"airflow_celery.flower: {error}", file=sys.stderr)
        return 78  # EX_CONFIG
    from celery import Celery

    app = Celery(APP_NAME)
    app.conf.update(config)
    return app.start(argv) or 0  # Celery's exit code, when its command line ends with one


if __name__ == "__main__":
    sys.exit(main())
