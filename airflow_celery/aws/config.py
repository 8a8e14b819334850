"""Stack config -> AirflowCeleryClusterArgs, and reading the stack files offline.

The config keys are the camelCase forms of the AirflowCeleryClusterArgs field names (`worker_count` ->
`workerCount`), derived here and nowhere else; `Pulumi.yaml` declares each one with its type, default and
description. `args_from_config` reads each key with the reader its declared type calls for, so a value of the
wrong type fails with one ConfigError naming the config key (`airflow-celery:workerCount`), before anything
is created. Validation of the values themselves is `resolve_args`'s job.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

import pulumi
import yaml

from airflow_celery.aws.args import AirflowCeleryClusterArgs, ConfigError, arg_types

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


def component_name(config: pulumi.Config, stack: str) -> str:
    """The component's name: config `name`, or `airflow-<stack>`. resolve_args checks it."""
    return config.get(NAME_KEY) or f"airflow-{stack}"


def args_from_config(config: pulumi.Config) -> AirflowCeleryClusterArgs:
    """The arguments set in the stack config (with Pulumi.yaml's defaults), each read as its declared type."""
    check_known_keys(config.name, stack_config_keys())
    types = arg_types()
    args: dict[str, Any] = {}
    for key, arg_name in CONFIG_KEYS.items():
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
        if expected is str or get_origin(expected) is Literal:
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


# --- the stack files, read offline -------------------------------------------------------------------------


def load_project(project_dir: str | Path) -> dict[str, Any]:
    """Pulumi.yaml as a mapping."""
    return yaml.safe_load((Path(project_dir) / "Pulumi.yaml").read_text())


def load_stack_config(stack: str, project_dir: str | Path = ".") -> dict[str, Any]:
    """Pulumi.yaml's defaults and values overlaid with Pulumi.<stack>.yaml: `namespace:key` -> value.

    The flat mapping the engine gives the program (values as YAML types, not yet strings), for tests and
    an offline preview. Secure (encrypted) values cannot be read here and raise a ConfigError.
    """
    project = load_project(project_dir)
    name = project["name"]
    flat = {_full_key(name, key): value for key, value in _project_values(name, project.get("config") or {})}
    stack_file = Path(project_dir) / f"Pulumi.{stack}.yaml"
    stack_config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    for key, value in stack_config.items():
        if isinstance(value, Mapping) and "secure" in value:
            raise ConfigError(key, "(secure)", "a plain value: encrypted config cannot be read offline")
        flat[_full_key(name, key)] = value
    return flat


def _project_values(project: str, declarations: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """(key, value) for each project config entry that carries a default (its own keys) or a value (others)."""
    for key, declaration in declarations.items():
        if not isinstance(declaration, Mapping):  # short-hand: a plain default or value
            yield key, declaration
        elif "default" in declaration:
            yield key, declaration["default"]
        elif "value" in declaration:
            yield key, declaration["value"]


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def config_type_errors(project_dir: str | Path, flat: Mapping[str, Any]) -> list[str]:
    """What `pulumi` would reject: each value whose type differs from its declaration in Pulumi.yaml.

    Follows the CLI's rules (pulumi/sdk/go/common/workspace/project.go, ValidateConfigValue): integers may
    be whole floats or digit strings, booleans may be the strings "true"/"false", arrays check their items.
    """
    project = load_project(project_dir)
    errors = []
    for key, declaration in (project.get("config") or {}).items():
        if not isinstance(declaration, Mapping) or "type" not in declaration:
            continue
        full_key = _full_key(project["name"], key)
        if full_key in flat and not value_matches_type(declaration, flat[full_key]):
            errors.append(f"{full_key}={flat[full_key]!r} is not of type {declaration['type']}")
    return errors


def value_matches_type(declaration: Mapping[str, Any], value: Any) -> bool:
    type_name = declaration.get("type")
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value == int(value)):
            return True
        return isinstance(value, str) and value.lstrip("-").isdigit()
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, Mapping)
    if type_name == "array":
        items = declaration.get("items")
        return isinstance(value, list) and items is not None and all(value_matches_type(items, v) for v in value)
    return False


def as_engine_config(flat: Mapping[str, Any]) -> dict[str, str]:
    """The strings the engine passes to a program: JSON for structured values, "true"/"false" for bools."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in flat.items()}
