"""Stack config -> arguments: one mapping table, typed reads, and Pulumi.yaml kept in step with the args."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pulumi
import pytest
import yaml
from pulumi.runtime import set_all_config

from airflow_celery.aws.args import ClusterConfig, ConfigError, arg_types, resolve_args
from airflow_celery.aws.config import (
    CONFIG_KEYS,
    NAME_KEY,
    PROJECT,
    args_from_config,
    as_engine_config,
    component_name,
    config_key,
    config_type_errors,
    load_project,
    load_stack_config,
    value_matches_type,
)

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")
PULUMI_TYPES = {"string", "integer", "boolean", "array", "object"}


@pytest.fixture
def stack_config():
    """Set the engine's config for one test (`key` -> value, namespaced to the project) and clear it after."""

    def set_config(values: dict) -> pulumi.Config:
        set_all_config(as_engine_config({k if ":" in k else f"{PROJECT}:{k}": v for k, v in values.items()}))
        return pulumi.Config(PROJECT)

    yield set_config
    set_all_config({})


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
def test_every_declared_key_has_a_type_and_a_description(key):
    declaration = declarations()[key]

    assert declaration["type"] in PULUMI_TYPES
    assert len(declaration.get("description", "").strip()) > 10
    if declaration["type"] == "array":
        assert declaration["items"]["type"] in PULUMI_TYPES
    if "default" in declaration:
        assert value_matches_type(declaration, declaration["default"])


def test_pulumi_yaml_defaults_equal_the_component_defaults():
    component_defaults = {f.name: f.default for f in dataclasses.fields(ClusterConfig)}

    for key, declaration in declarations().items():
        if "default" in declaration:
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
    assert resolve_args("airflow", args).role_sizes["worker"] == (2048, 4096)


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


# --- the stack files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_values_have_their_declared_types(stack):
    flat = load_stack_config(stack, ROOT)

    assert config_type_errors(ROOT, flat) == []
    assert flat["aws:region"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_keys_are_all_known(stack):
    flat = load_stack_config(stack, ROOT)
    namespaced = {key.partition(":")[2] for key in flat if key.startswith(f"{PROJECT}:")}

    assert namespaced <= {*CONFIG_KEYS, NAME_KEY}
    assert {key.partition(":")[0] for key in flat} <= {PROJECT, "aws"}


def test_stack_file_overrides_the_project_default():
    dev, prod = load_stack_config("dev", ROOT), load_stack_config("prod", ROOT)

    assert declarations()["workerCount"]["default"] == 1
    assert dev[f"{PROJECT}:workerConcurrency"] == declarations()["workerConcurrency"]["default"]
    assert prod[f"{PROJECT}:workerCount"] == 2
    assert prod[f"{PROJECT}:redisMode"] == "elasticache" != declarations()["redisMode"]["default"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_config_resolves_to_valid_args(stack_config, stack):
    flat = load_stack_config(stack, ROOT)

    config = resolve_args(f"airflow-{stack}", args_from_config(stack_config(flat)))

    assert config.name == f"airflow-{stack}"


def test_prod_certificate_is_in_the_stack_region():
    flat = load_stack_config("prod", ROOT)

    assert flat[f"{PROJECT}:certificateArn"].split(":")[3] == flat["aws:region"]


def test_encrypted_values_cannot_be_loaded_offline(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    (tmp_path / "Pulumi.x.yaml").write_text(f"config:\n  {PROJECT}:token:\n    secure: AAABAxyz\n")

    with pytest.raises(ConfigError) as caught:
        load_stack_config("x", tmp_path)

    assert caught.value.key == f"{PROJECT}:token"


@pytest.mark.parametrize(
    ("declaration", "value", "valid"),
    [
        ({"type": "integer"}, 2, True),
        ({"type": "integer"}, "2", True),
        ({"type": "integer"}, 2.5, False),
        ({"type": "integer"}, True, False),
        ({"type": "boolean"}, "true", True),
        ({"type": "boolean"}, "yes", False),
        ({"type": "string"}, 16, False),
        ({"type": "array", "items": {"type": "string"}}, ["a"], True),
        ({"type": "array", "items": {"type": "string"}}, [1], False),
        ({"type": "object"}, {"a": 1}, True),
        ({"type": "object"}, [], False),
    ],
)
def test_type_check_follows_the_pulumi_cli_rules(declaration, value, valid):
    assert value_matches_type(declaration, value) is valid
