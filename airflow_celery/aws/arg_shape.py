"""The first check of resolve_args: every given key is an argument, and every value has its declared type.

Values that may be Outputs (pulumi.Input) are checked when they are plain; an Output's value is known only at
deploy time, where AWS checks its format.
"""

import difflib
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from airflow_celery.aws.annotations import Kind, arg_annotations, shape_of
from airflow_celery.aws.value_types import ConfigError, require


def check_shape(args: object) -> dict[str, Any]:
    """The given arguments, after checking that every key is known and every value has the declared type."""
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise ConfigError("args", args, "a dict of AirflowCeleryClusterArgs (or None for the defaults)")
    types = arg_annotations()
    for key, value in args.items():
        if key not in types:
            raise ConfigError(str(key), value, _unknown_key_hint(str(key), types))
        check_type(key, value, types[key])
    return dict(args)


def _unknown_key_hint(key: str, known: Mapping[str, Any]) -> str:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()
    close = [snake] if snake in known else difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return f"not an argument of AirflowCeleryCluster; {suggestion}the arguments are: {', '.join(known)}"


def check_type(key: str, value: object, expected: Any) -> None:
    """Check `value` against an annotation of AirflowCeleryClusterArgs; a pulumi.Input may be an Output."""
    shape = shape_of(expected)
    match shape.kind:
        case Kind.INPUT:
            if not isinstance(value, pulumi.Output):  # an Output's value is known only at deploy time
                check_type(key, value, shape.inner)
        case Kind.BOOL:
            require(isinstance(value, bool), key, value, "true or false (a bool, not a string or a number)")
        case Kind.INT:
            require(isinstance(value, int) and not isinstance(value, bool), key, value, _int_hint(value))
        case Kind.STR:
            require(isinstance(value, str) and value.strip() != "", key, value, "a non-empty string")
        case Kind.ENUM:
            require(value in list(shape.inner), key, value, f"one of {', '.join(repr(str(m)) for m in shape.inner)}")
        case Kind.LIST:
            _check_list(key, value, shape.inner)
        case Kind.MAPPING:
            _check_mapping(key, value, shape.inner)
        case Kind.RECORD:
            _check_record(key, value, shape.fields)


def _int_hint(value: object) -> str:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return f"a whole number, not the string {value!r} (write {value.strip()} without quotes)"
    if isinstance(value, bool):
        return "a whole number, not a bool"
    return "a whole number"


def _check_list(key: str, value: object, item_type: Any) -> None:
    if isinstance(value, pulumi.Output):
        raise ConfigError(key, value, "a list whose items may be Outputs, not one Output of a whole list")
    require(isinstance(value, list | tuple), key, value, "a list of strings")
    for index, item in enumerate(value):  # type: ignore[arg-type]
        check_type(f"{key}[{index}]", item, item_type)


def _check_mapping(key: str, value: object, value_type: Any) -> None:
    require(isinstance(value, Mapping), key, value, "a mapping")
    for item_key, item in value.items():  # type: ignore[union-attr]
        require(isinstance(item_key, str), key, item_key, "a mapping with string keys")
        check_type(f"{key}.{item_key}", item, value_type)


def _check_record(key: str, value: object, fields: Mapping[str, Any]) -> None:
    require(isinstance(value, Mapping), key, value, f"a mapping with the keys {', '.join(fields)}")
    for item_key, item in value.items():  # type: ignore[union-attr]
        if item_key not in fields:
            raise ConfigError(f"{key}.{item_key}", item, f"unknown key; allowed keys are {', '.join(fields)}")
        check_type(f"{key}.{item_key}", item, fields[item_key])
