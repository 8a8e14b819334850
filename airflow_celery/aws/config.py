"""Stack config -> AirflowCeleryClusterArgs: the key table, typed reads, and what "unset" looks like.

The config keys are the camelCase forms of the AirflowCeleryClusterArgs field names (`worker_count` ->
`workerCount`), derived here and nowhere else; `Pulumi.yaml` declares each one with its type, default and
description. `args_from_config` reads each key with the reader its declared type calls for, so a value of the
wrong type fails with one ConfigError naming the config key (`airflow-celery:workerCount`), before anything
is created. Validation of the values themselves is `resolve_args`'s job; `validated_args_from_config` runs
both for the program and names a refused value by its config key too (`airflow-celery:roleSizes.worker`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_origin

import pulumi
import yaml

from airflow_celery.aws.args import AirflowCeleryClusterArgs, ConfigError, arg_types, resolve_args

PROJECT = "airflow-celery"
NAME_KEY = "name"
"""The one config key that is not an argument: the component's name (default `airflow-<stack>`)."""


def camel_case(snake: str) -> str:
    """snake_case -> camelCase: Pulumi's convention for config keys and stack outputs."""
    first, *rest = snake.split("_")
    return first + "".join(word.capitalize() for word in rest)


def config_key(arg_name: str) -> str:
    """The stack config key of an argument."""
    return camel_case(arg_name)


CONFIG_KEYS: dict[str, str] = {config_key(arg_name): arg_name for arg_name in arg_types()}
"""Config key -> argument name: the single link between the two."""

OPTIONAL_KEYS: frozenset[str] = frozenset(
    {NAME_KEY, "vpcId", "publicSubnetIds", "privateSubnetIds", "certificateArn", "domainName", "image"}
    | {"workerMinCount", "workerMaxCount", "roleSizes", "tags", "dbMaxAllocatedStorage", "allowedCidrs"}
    | {"buildContext", "roleCapacity", "hibernation", "alarmEmail", "workerQueues"}
)
"""Keys with no value of their own when unset (the component derives or skips them). The Pulumi CLI refuses
to run a stack lacking a value for a declared key without a default (pkg/workspace/config.go, mergeConfig),
so Pulumi.yaml gives each the empty value of its kind as its default, and that value means unset here."""
UNSET = ("", "[]", "{}")
"""The empty defaults as the engine passes them to the program: "", and JSON for an empty list or mapping."""


def component_name(config: pulumi.Config, stack: str) -> str:
    """The component's name: config `name`, or `airflow-<stack>` when it is unset (""). resolve_args checks it."""
    return config.get(NAME_KEY) or f"airflow-{stack}"


def validated_args_from_config(config: pulumi.Config, stack: str) -> tuple[str, AirflowCeleryClusterArgs]:
    """The component's name and arguments from the stack config, checked by resolve_args before anything exists.

    A bad value raises one ConfigError naming the config key the user wrote (`airflow-celery:workerCount`), not
    the Python argument (`worker_count`) the component would name.
    """
    name = component_name(config, stack)
    args = args_from_config(config)
    try:
        resolve_args(name, args)
    except ConfigError as error:
        raise in_schema_terms(error, f"{config.name}:") from None
    return name, args


_LEADING_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SNAKE_ARG = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def in_schema_terms(error: ConfigError, prefix: str = "") -> ConfigError:
    """The same error in the words of a stack file or another Pulumi language: camelCase keys.

    Its key becomes `prefix` + the camelCase key (`role_sizes.worker` -> `airflow-celery:roleSizes.worker`);
    argument names in the explanation become camelCase too (`worker_count` -> `workerCount`).
    """
    arg_names = set(arg_types())
    match = _LEADING_NAME.match(error.key)
    key = error.key
    if match and (match[0] in arg_names or match[0] == NAME_KEY):
        key = prefix + camel_case(match[0]) + error.key[match.end() :]
    return ConfigError(key, error.value, camel_case_args(error.allowed))


def camel_case_args(text: str) -> str:
    """`text` with every snake_case argument name in camelCase (`worker_max_count` -> `workerMaxCount`)."""
    arg_names = set(arg_types())
    return _SNAKE_ARG.sub(lambda m: camel_case(m[0]) if m[0] in arg_names else m[0], text)


def args_from_config(config: pulumi.Config) -> AirflowCeleryClusterArgs:
    """The arguments set in the stack config (with Pulumi.yaml's defaults), each read as its declared type."""
    check_known_keys(config.name, stack_config_keys())
    types = arg_types()
    args: dict[str, Any] = {}
    for key, arg_name in CONFIG_KEYS.items():
        if key in OPTIONAL_KEYS and config.get(key) in UNSET:
            continue
        value = _read(config, key, types[arg_name])
        if value is not None:
            args[arg_name] = value
    return args  # type: ignore[return-value]


def _read(config: pulumi.Config, key: str, expected: Any) -> Any:
    try:
        if expected is bool:
            return config.get_bool(key)
        if expected is int:
            return config.get_int(key)
        if isinstance(expected, type) and issubclass(expected, str):  # str, and str-valued enums (RedisMode)
            return config.get(key)
        return _read_structured(config, key, list if get_origin(expected) is list else dict)
    except pulumi.ConfigTypeError as error:
        raise ConfigError(error.key, error.value, _READERS_EXPECT.get(error.expect_type, error.expect_type)) from None


_READERS_EXPECT = {
    "bool": "true or false",
    "int": "a whole number",
    "JSON object": "a YAML list or mapping (JSON when set with `pulumi config set`)",
}


def _read_structured(config: pulumi.Config, key: str, kind: type) -> Any:
    value = config.get_object(key)
    if value is not None and not isinstance(value, kind):
        what = "a list, e.g. [a, b]" if kind is list else "a mapping, e.g. {key: value}"
        raise ConfigError(config.full_key(key), value, what)
    return value


def stack_config_keys() -> set[str]:
    """Every config key the engine passed to this program (explicitly set, or from the environment)."""
    from pulumi.runtime import config as runtime_config

    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def check_known_keys(project: str, keys: Iterable[str]) -> None:
    """A typo guard: every key in this project's namespace must be a known config key."""
    known = [*CONFIG_KEYS, NAME_KEY]
    for full_key in sorted(keys):
        namespace, _, key = full_key.partition(":")
        if namespace == project and key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {project}:{close[0]}? " if close else ""
            raise ConfigError(full_key, "(set)", f"not a config key of this project; {hint}keys: {', '.join(known)}")


# --- Pulumi.yaml ---------------------------------------------------------------------------------------------


def load_project(project_dir: str | Path) -> dict[str, Any]:
    """Pulumi.yaml as a mapping."""
    return yaml.safe_load((Path(project_dir) / "Pulumi.yaml").read_text())
