"""The component's arguments: the types users pass, and `resolve_args`, which turns them into a ResolvedArgs.

Every check happens in `resolve_args`, before the component registers anything, and each failure is one
ConfigError naming the field, the value and what is allowed. The pieces, in the order resolve_args uses them:

- aws/arg_declarations.py: one declaration per argument (type, default, bounds or choices, description);
- aws/args_typed_dict.py: AirflowCeleryClusterArgs, generated from the declarations;
- aws/annotations.py: what an annotation means, for every reader of them;
- aws/arg_shape.py: known keys, and values of the declared types;
- aws/arg_checks.py: each value on its own (formats, production rules, counts, sizes, tags);
- aws/resolved_args.py: ResolvedArgs, the resolved form;
- aws/capacity_checks.py: the rules over the whole resolved config (memory, connections, heartbeats).
"""

from collections.abc import Mapping
from typing import Any

from airflow_celery.aws import arg_checks
from airflow_celery.aws.annotations import arg_annotations, arg_types, input_of
from airflow_celery.aws.arg_checks import FARGATE_ROLES, SPOT_ROLES
from airflow_celery.aws.arg_declarations import ARGS, DEFAULTS, HIBERNATION, MAX_NAME_LENGTH, Arg
from airflow_celery.aws.arg_shape import check_shape
from airflow_celery.aws.args_typed_dict import AirflowCeleryClusterArgs, HibernationArgs, RoleSizeArgs
from airflow_celery.aws.capacity_checks import check_capacity
from airflow_celery.aws.resolved_args import ResolvedArgs
from airflow_celery.aws.value_types import ConfigError, Hibernation, RedisMode, WorkerCapacity
from airflow_celery.aws.worker_queues import resolve_worker_queues
from airflow_celery.cluster.roles import WORKER

__all__ = [
    "FARGATE_ROLES",
    "MAX_NAME_LENGTH",
    "SPOT_ROLES",
    "AirflowCeleryClusterArgs",
    "ConfigError",
    "HibernationArgs",
    "RedisMode",
    "ResolvedArgs",
    "RoleSizeArgs",
    "WorkerCapacity",
    "arg_annotations",
    "arg_types",
    "input_of",
    "resolve_args",
]

_DERIVED = frozenset(
    {"worker_count", "worker_min_count", "worker_max_count", "role_sizes", "worker_capacity", "redis_mode"}
    | {"hibernation", "worker_queues"}
)
"""Arguments whose ResolvedArgs value resolve_args works out from several given ones, or converts."""


def _unset(arg: Arg) -> Any:
    """An argument's ResolvedArgs value when it is neither given nor has a default: empty, or None."""
    if arg.annotation.startswith("list["):
        return ()
    if arg.annotation.startswith("dict["):
        return {}
    return None


def _frozen(value: Any) -> Any:
    """Lists become tuples (ResolvedArgs is frozen); mappings are copied."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def resolve_args(name: str, args: AirflowCeleryClusterArgs | Mapping[str, Any] | None) -> ResolvedArgs:
    """Validate `args` for a component called `name` and fill in the defaults; raise one ConfigError.

    Called before the component registers anything, so a bad value costs nothing: no resource is created.
    """
    arg_checks.check_name(name)
    given = check_shape(args)
    for arg in ARGS:
        arg_checks.check_declared(given, arg)
    arg_checks.check_network(given)
    arg_checks.check_image(given)
    worker_count, worker_min, worker_max = arg_checks.worker_counts(given)
    arg_checks.check_role_capacity(given.get("role_capacity", {}))
    arg_checks.check_hibernation(given.get("hibernation"))
    arg_checks.check_broker(given)
    arg_checks.check_database(given)
    arg_checks.check_accounts(given)
    arg_checks.check_tags(given.get("tags", {}))
    arg_checks.check_dag_source(given)
    arg_checks.check_notifications(given)
    values = {arg.name: _unset(arg) for arg in ARGS} | DEFAULTS | given
    role_sizes = arg_checks.role_sizes(given)
    worker_queues = resolve_worker_queues(given, role_sizes[WORKER.name], values["worker_concurrency"])
    config = ResolvedArgs(
        name=name,
        **{key: _frozen(value) for key, value in values.items() if key not in _DERIVED},
        worker_count=worker_count,
        worker_min_count=worker_min,
        worker_max_count=worker_max,
        role_sizes=role_sizes,
        worker_queues=worker_queues,
        worker_capacity=WorkerCapacity(values["worker_capacity"]),
        redis_mode=RedisMode(values["redis_mode"]),
        hibernation=Hibernation(**HIBERNATION.defaults | given["hibernation"]) if "hibernation" in given else None,
    )
    check_capacity(config)
    return config
