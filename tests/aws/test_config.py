"""Stack config -> arguments: one mapping table, typed reads, and Pulumi.yaml kept in step with the args."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from airflow_celery.aws.args import ConfigError, arg_types, resolve_args
from airflow_celery.aws.config import (
    CONFIG_KEYS,
    NAME_KEY,
    OPTIONAL_KEYS,
    PROJECT,
    args_from_config,
    component_name,
    config_key,
    in_schema_terms,
    load_project,
    validated_args_from_config,
)
from tests.aws.harness import stack_engine_config
from tests.aws.pulumi_cli import read_back, validate_config_value

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")
PULUMI_TYPES = {"string", "integer", "boolean", "array", "object"}
UNTYPED_INTEGERS = {"workerMinCount", "workerMaxCount", "dbMaxAllocatedStorage"}
"""Declared without a type: no integer default can mean "follow workerCount" or "4 x dbAllocatedStorage"."""


def declarations() -> dict:
    return load_project(ROOT)["config"]


# --- the mapping table ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg_name", "key"),
    [("worker_count", "workerCount"), ("db_multi_az", "dbMultiAz"), ("vpc_id", "vpcId"), ("tags", "tags")],
)
def test_config_key_is_the_camel_case_of_the_arg(arg_name, key):
    assert config_key(arg_name) == key
    assert CONFIG_KEYS[key] == arg_name


def test_every_arg_has_exactly_one_config_key():
    assert sorted(CONFIG_KEYS.values()) == sorted(arg_types())


def test_pulumi_yaml_declares_exactly_the_arg_keys_and_the_name():
    declared = {key for key in declarations() if ":" not in key}

    assert declared == {*CONFIG_KEYS, NAME_KEY}


@pytest.mark.parametrize("key", list(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]))
def test_every_declared_key_has_a_type_a_default_and_a_description(key):
    declaration = declarations()[key]
    kind = declaration.get("type", "integer" if key in UNTYPED_INTEGERS else None)

    assert kind in PULUMI_TYPES
    assert len(declaration.get("description", "").strip()) > 10
    if kind == "array":
        assert declaration["items"]["type"] in PULUMI_TYPES
    assert "default" in declaration
    if key not in UNTYPED_INTEGERS:
        assert validate_config_value(kind, declaration.get("items"), declaration["default"])


def test_optional_keys_default_to_the_empty_value_that_means_unset():
    empty = {"string": "", "array": [], "object": {}}

    for key, declaration in declarations().items():
        if key in OPTIONAL_KEYS:
            assert declaration["default"] == empty.get(declaration.get("type"), ""), key
        else:
            assert declaration["default"] not in ("", [], {}), key


def test_pulumi_yaml_defaults_equal_the_component_defaults():
    """What a stack that sets nothing gets equals what the component resolves with no arguments."""
    component_defaults = dataclasses.asdict(resolve_args("airflow", None))

    for key, declaration in declarations().items():
        if key not in OPTIONAL_KEYS:
            default = declaration["default"]
            expected = component_defaults[CONFIG_KEYS[key]]
            assert (tuple(default) if isinstance(default, list) else default) == expected, key


def test_pulumi_yaml_runtime_uses_the_project_virtualenv():
    project = load_project(ROOT)

    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


# --- typed reads ---------------------------------------------------------------------------------------------


def test_values_are_read_as_their_declared_types(stack_config):
    config = stack_config(
        {
            "workerCount": 3,
            "dbMultiAz": True,
            "allowedCidrs": ["10.0.0.0/8"],
            "roleSizes": {"worker": {"cpu": 2048, "memory": 4096}},
            "redisMode": "elasticache",
        }
    )

    args = args_from_config(config)

    assert args == {
        "worker_count": 3,
        "db_multi_az": True,
        "allowed_cidrs": ["10.0.0.0/8"],
        "role_sizes": {"worker": {"cpu": 2048, "memory": 4096}},
        "redis_mode": "elasticache",
    }
    assert resolve_args("airflow", {**args, "db_instance_class": "db.t4g.medium"}).role_sizes["worker"] == (2048, 4096)


def test_unset_keys_are_left_out_so_the_component_defaults_apply(stack_config):
    assert args_from_config(stack_config({})) == {}


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        pytest.param("workerCount", "two", "a whole number", id="int"),
        pytest.param("dbMultiAz", "yes", "true or false", id="bool"),
        pytest.param("allowedCidrs", "10.0.0.0/8", "a YAML list or mapping", id="list-not-json"),
        pytest.param("allowedCidrs", {"office": "10.0.0.0/8"}, "a list", id="mapping-for-list"),
        pytest.param("roleSizes", ["worker"], "a mapping", id="list-for-mapping"),
    ],
)
def test_wrong_typed_value_names_the_config_key(stack_config, key, value, allowed):
    config = stack_config({key: value})

    with pytest.raises(ConfigError) as caught:
        args_from_config(config)

    assert caught.value.key == f"{PROJECT}:{key}"
    assert allowed in str(caught.value)


def test_unknown_project_key_is_refused_with_the_close_match(stack_config):
    config = stack_config({"workrCount": 2, "aws:region": "us-east-1"})

    with pytest.raises(ConfigError) as caught:
        args_from_config(config)

    assert caught.value.key == f"{PROJECT}:workrCount"
    assert f"did you mean {PROJECT}:workerCount?" in str(caught.value)


def test_component_name_comes_from_config_or_the_stack(stack_config):
    assert component_name(stack_config({}), "dev") == "airflow-dev"
    assert component_name(stack_config({"name": "etl"}), "dev") == "etl"


# --- the stack files, as the CLI merges them (airflow_celery/aws/pulumi_cli.py) ---------------------------------------


def merged(stack: str) -> dict:
    return {key: read_back(text) for key, text in stack_engine_config(stack).items()}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_keys_are_all_known(stack):
    flat = merged(stack)
    namespaced = {key.partition(":")[2] for key in flat if key.startswith(f"{PROJECT}:")}

    assert namespaced <= {*CONFIG_KEYS, NAME_KEY}
    assert {key.partition(":")[0] for key in flat} <= {PROJECT, "aws"}


def test_stack_file_overrides_the_project_default():
    dev, prod = merged("dev"), merged("prod")

    assert declarations()["workerCount"]["default"] == 1
    assert dev[f"{PROJECT}:workerConcurrency"] == declarations()["workerConcurrency"]["default"]
    assert prod[f"{PROJECT}:workerCount"] == 2
    assert prod[f"{PROJECT}:redisMode"] == "elasticache" != declarations()["redisMode"]["default"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_config_resolves_to_valid_args(stack_config, stack):
    config = resolve_args(f"airflow-{stack}", args_from_config(stack_config(stack_engine_config(stack))))

    assert config.name == f"airflow-{stack}"


def test_prod_certificate_is_in_the_stack_region():
    flat = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]

    assert flat[f"{PROJECT}:certificateArn"].split(":")[3] == flat["aws:region"]


# --- errors in the user's words ------------------------------------------------------------------------------


def test_a_refused_config_value_names_the_config_key_and_camel_cases_the_explanation(stack_config):
    config = stack_config({"workerMinCount": 5, "workerCount": 2})

    with pytest.raises(ConfigError) as caught:
        validated_args_from_config(config, "dev")

    assert caught.value.key == f"{PROJECT}:workerMinCount"
    assert str(caught.value) == f"{PROJECT}:workerMinCount=5 is not valid: at most workerCount (2)"


def test_the_same_value_from_python_keeps_the_argument_name():
    with pytest.raises(ConfigError) as caught:
        resolve_args("airflow-dev", {"worker_min_count": 5, "worker_count": 2})

    assert str(caught.value) == "worker_min_count=5 is not valid: at most worker_count (2)"


def test_valid_config_gives_the_name_and_the_args(stack_config):
    name, args = validated_args_from_config(stack_config({"workerConcurrency": 8, "name": "etl"}), "dev")

    assert (name, args) == ("etl", {"worker_concurrency": 8})


@pytest.mark.parametrize(
    ("key", "renamed"),
    [
        ("role_sizes.api-server", "roleSizes.api-server"),
        ("public_subnet_ids[1]", "publicSubnetIds[1]"),
        ("tags.cost_center", "tags.cost_center"),  # a user's own map key is left as written
        ("name", "name"),
        ("args", "args"),  # not a config key: left alone
    ],
)
def test_nested_keys_keep_their_path_after_the_argument(key, renamed):
    error = in_schema_terms(ConfigError(key, "x", "redis_mode is 'fargate'; see image and redis_node_type"))

    assert error.key == renamed
    assert error.allowed == "redisMode is 'fargate'; see image and redisNodeType"
