"""What an annotation of AirflowCeleryClusterArgs means: the one reader of the arguments' annotations.

Three places walk them: resolve_args checks each value against its type (aws/arg_shape.py), the stack config
reads each key with the reader its type calls for (aws/config.py), and the provider turns the wire's floats back
into ints where an int is declared (aws/provider.py). Each asks `shape_of` what an annotation is and acts on
its Kind, so a new kind of annotation is taught here, once.
"""

import inspect
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Union, get_args, get_origin, is_typeddict

from airflow_celery.aws.args_typed_dict import AirflowCeleryClusterArgs


class Kind(StrEnum):
    """The kinds of annotation the arguments use."""

    INPUT = "input"
    """pulumi.Input[T]: a T, or an Output whose value is known only at deploy time."""
    BOOL = "bool"
    INT = "int"
    STR = "str"
    ENUM = "enum"
    """A StrEnum (RedisMode): one of its values."""
    LIST = "list"
    MAPPING = "mapping"
    """dict[str, T]."""
    RECORD = "record"
    """A TypedDict (RoleSizeArgs): a mapping with known keys, each of its own type."""


@dataclass(frozen=True)
class Shape:
    """An annotation, read."""

    kind: Kind
    inner: Any = None
    """The T of pulumi.Input[T], a list's item type, a mapping's value type, or the enum class."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """A record's field annotations."""


def input_of(annotation: Any) -> Any | None:
    """T for a pulumi.Input[T] (T, Awaitable[T] or an Output of T: a value that may be known only at deploy time)."""
    if get_origin(annotation) is Union:
        awaited = [get_args(arg)[0] for arg in get_args(annotation) if get_origin(arg) is Awaitable]
        if awaited:
            return awaited[0]
    return None


def shape_of(annotation: Any) -> Shape:
    """What `annotation` is; a TypeError for one no argument uses yet."""
    inner = input_of(annotation)
    if inner is not None:
        return Shape(Kind.INPUT, inner)
    simple = {bool: Kind.BOOL, int: Kind.INT, str: Kind.STR}
    if annotation in simple:
        return Shape(simple[annotation])
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return Shape(Kind.ENUM, annotation)
    origin = get_origin(annotation)
    if origin is list:
        return Shape(Kind.LIST, get_args(annotation)[0])
    if origin is dict:
        return Shape(Kind.MAPPING, get_args(annotation)[1])
    if is_typeddict(annotation):
        return Shape(Kind.RECORD, fields=inspect.get_annotations(annotation))
    raise TypeError(f"no argument has the annotation {annotation!r} yet: teach aws/annotations.py shape_of it")


def plain_type(annotation: Any) -> Any:
    """The annotation without its pulumi.Input wrappers (list[Input[str]] -> list[str])."""
    shape = shape_of(annotation)
    if shape.kind is Kind.INPUT:
        return plain_type(shape.inner)
    if shape.kind is Kind.LIST:
        return list[plain_type(shape.inner)]
    return annotation


def arg_annotations() -> dict[str, Any]:
    """Each argument's annotation as declared, pulumi.Input[...] included."""
    return inspect.get_annotations(AirflowCeleryClusterArgs)


def arg_types() -> dict[str, Any]:
    """Each argument's plain type: its annotation with pulumi.Input[T] read as T."""
    return {key: plain_type(annotation) for key, annotation in arg_annotations().items()}
