"""One declaration per argument (aws/arg_declarations.py): what it generates is current, and the checks follow it."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields

import pytest

from airflow_celery.aws import arg_outputs
from airflow_celery.aws.arg_declarations import ARGS, DEFAULTS, HIBERNATION, RECORDS, Arg, describe, range_allowed
from airflow_celery.aws.args import ConfigError, ResolvedArgs, arg_annotations, resolve_args
from airflow_celery.aws.provider import SCHEMA_PATH, schema_text
from airflow_celery.cluster import EnvSettings
from airflow_celery.cluster.limits import Capacity, capacity_settings
from airflow_celery.docs import README_PATH, readme_with_config_reference

GENERATED = {
    "aws/args_typed_dict.py": lambda: (arg_outputs.TYPED_DICT_PATH, arg_outputs.typed_dict_source()),
    "Pulumi.yaml": lambda: (
        arg_outputs.PULUMI_YAML_PATH,
        arg_outputs.pulumi_yaml_with_config(arg_outputs.PULUMI_YAML_PATH.read_text()),
    ),
    "schema.json": lambda: (SCHEMA_PATH, schema_text()),
    "README.md": lambda: (README_PATH, readme_with_config_reference(README_PATH.read_text())),
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_every_generated_file_is_current(name):
    path, expected = GENERATED[name]()

    assert path.read_text() == expected, "run: make docs && make schema"


def test_the_typed_dict_has_one_field_per_declaration_in_order():
    assert list(arg_annotations()) == [arg.name for arg in ARGS]


def test_pulumi_yaml_declares_each_argument_from_its_declaration():
    import yaml

    config = yaml.safe_load(arg_outputs.PULUMI_YAML_PATH.read_text())["config"]

    assert config["workerConcurrency"] == {
        "type": "integer",
        "default": DEFAULTS["worker_concurrency"],
        "description": "Task slots per worker (AIRFLOW__CELERY__WORKER_CONCURRENCY). `[core] parallelism` and the "
        "default pool follow: workerMaxCount x workerConcurrency. Range 1-256.",
    }


EVERY_DECLARATION = [*ARGS, *(arg for record in RECORDS for arg in record.fields)]


@pytest.mark.parametrize("arg", EVERY_DECLARATION, ids=lambda arg: arg.name)
def test_a_description_states_no_default_or_range_of_its_own(arg: Arg):
    """Both come from the declaration's fields, so they can't disagree with the check."""
    assert not re.search(r"\bDefault\b", arg.description), "give `default=` instead"
    if arg.bounds:
        low, high = arg.bounds
        assert f"{low}-{high}" not in arg.description, "give `bounds=` only"
        assert f"Range {low}-{high}" in describe(arg)


@pytest.mark.parametrize("arg", [arg for arg in EVERY_DECLARATION if arg.choices], ids=lambda arg: arg.name)
def test_a_description_names_every_allowed_value(arg: Arg):
    for choice in arg.choices:
        assert str(choice) in arg.description


@pytest.mark.parametrize("arg", [arg for arg in ARGS if arg.bounds], ids=lambda arg: arg.name)
def test_a_value_outside_the_declared_bounds_is_refused_with_the_range(arg: Arg):
    low, high = arg.bounds
    for value in (low - 1, high + 1):
        with pytest.raises(ConfigError) as caught:
            resolve_args("airflow", {arg.name: value})

        assert (caught.value.key, caught.value.value) == (arg.name, value)
        assert caught.value.allowed == range_allowed(arg)


@pytest.mark.parametrize("arg", [arg for arg in ARGS if arg.choices], ids=lambda arg: arg.name)
def test_a_value_outside_the_declared_choices_is_refused(arg: Arg):
    value = 2 if arg.annotation == "int" else "nope"

    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow", {arg.name: value})

    assert caught.value.key == arg.name
    assert all(str(choice) in caught.value.allowed for choice in arg.choices)


@pytest.mark.parametrize("arg", [arg for arg in HIBERNATION.fields if arg.bounds], ids=lambda arg: arg.name)
def test_a_record_key_outside_its_declared_bounds_is_refused_by_its_full_key(arg: Arg):
    low, high = arg.bounds
    for value in (low - 1, high + 1):
        with pytest.raises(ConfigError) as caught:
            resolve_args("airflow", {"hibernation": {arg.name: value}})

        assert (caught.value.key, caught.value.allowed) == (f"hibernation.{arg.name}", range_allowed(arg))


def test_a_record_takes_its_declared_defaults():
    assert vars(resolve_args("airflow", {"hibernation": {"wake": 8}}).hibernation) == HIBERNATION.defaults | {"wake": 8}


def test_the_declared_defaults_are_what_the_component_resolves():
    config = resolve_args("airflow", None)

    assert {name: getattr(config, name) for name in DEFAULTS} == DEFAULTS


def test_resolved_and_computed_values_carry_no_default_of_their_own():
    """Defaults live in the declarations; ResolvedArgs and the capacity fields of EnvSettings are filled in."""
    computed = capacity_settings(Capacity())

    assert all(field.default is MISSING for field in fields(ResolvedArgs))
    assert all(field.default is MISSING for field in fields(EnvSettings) if field.name in computed)
