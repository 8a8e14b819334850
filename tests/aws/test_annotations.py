"""aws/annotations.py: the one reader of the arguments' annotations, used by the checks, the config and the provider."""

from __future__ import annotations

import pulumi
import pytest

from airflow_celery.aws.annotations import Kind, arg_annotations, arg_types, shape_of
from airflow_celery.aws.args_typed_dict import RoleSizeArgs
from airflow_celery.aws.value_types import RedisMode, WorkerCapacity


def test_every_argument_has_a_shape():
    kinds = {name: shape_of(annotation).kind for name, annotation in arg_annotations().items()}

    assert kinds["vpc_id"] is Kind.INPUT
    assert kinds["worker_count"] is Kind.INT
    assert kinds["public_subnet_ids"] is Kind.LIST
    assert kinds["role_sizes"] is Kind.MAPPING
    assert kinds["hibernation"] is Kind.RECORD
    assert (kinds["redis_mode"], kinds["worker_capacity"]) == (Kind.ENUM, Kind.ENUM)


@pytest.mark.parametrize(
    ("annotation", "kind", "inner"),
    [
        (pulumi.Input[str], Kind.INPUT, str),
        (list[pulumi.Input[str]], Kind.LIST, pulumi.Input[str]),
        (dict[str, RoleSizeArgs], Kind.MAPPING, RoleSizeArgs),
        (WorkerCapacity, Kind.ENUM, WorkerCapacity),
        (RedisMode, Kind.ENUM, RedisMode),
    ],
)
def test_shape_names_the_inner_type(annotation, kind, inner):
    shape = shape_of(annotation)

    assert (shape.kind, shape.inner) == (kind, inner)


def test_a_record_lists_its_fields():
    assert dict(shape_of(RoleSizeArgs).fields) == {"cpu": int, "memory": int}


def test_an_annotation_no_argument_uses_is_refused_by_name():
    with pytest.raises(TypeError, match="float"):
        shape_of(float)


def test_plain_types_drop_every_input_wrapper():
    types = arg_types()

    assert (types["vpc_id"], types["public_subnet_ids"], types["image"]) == (str, list[str], str)
