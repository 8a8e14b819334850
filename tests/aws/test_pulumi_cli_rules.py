"""Pulumi.yaml and the stack files pass the Pulumi CLI's config rules (reproduced in airflow_celery/aws/pulumi_cli.py).

The first cases are the CLI's own tests (pkg/workspace/config_project_test.go and
sdk/go/common/workspace/project_test.go), run against the reproduction to show it follows the source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from airflow_celery.aws.args import resolve_args
from airflow_celery.aws.config import CONFIG_KEYS, OPTIONAL_KEYS, PROJECT, UNSET, args_from_config
from tests.aws import pulumi_cli
from tests.aws.pulumi_cli import PulumiCliError, engine_config, merge_stack_config, validate_project

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def project_of(text: str) -> dict:
    project = yaml.safe_load(text)
    validate_project(project)
    return project


# --- the reproduction follows the CLI's own tests -------------------------------------------------------------


def test_a_typed_key_without_default_is_required():
    """TestStackConfigErrorsWhenMissingStackValueForConfigTypeWithNoDefault."""
    project = project_of(
        "name: test\nruntime: dotnet\nconfig:\n  values:\n    type: array\n    items:\n      type: string"
    )

    with pytest.raises(PulumiCliError, match="Stack 'dev' is missing configuration value 'values'"):
        merge_stack_config(project, "dev", {})


def test_every_missing_key_is_named_in_one_error():
    """TestStackConfigErrorsWhenMissingMultipleStackValueForConfigTypeWithNoDefault."""
    project = project_of(
        "name: test\nconfig:\n  hello:\n    type: integer\n  values:\n    type: array\n    items:\n      type: string\n"
        "  world:\n    type: string"
    )

    with pytest.raises(PulumiCliError) as caught:
        merge_stack_config(project, "dev", {})

    assert str(caught.value) == "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'"


def test_an_untyped_key_without_default_is_required_too():
    """mergeConfig tests `!foundOnStack && !hasValue && !hasDefault`, whatever the type."""
    project = project_of("name: test\nconfig:\n  note:\n    description: anything")

    with pytest.raises(PulumiCliError, match="missing configuration value 'note'"):
        merge_stack_config(project, "dev", {})


def test_a_default_applies_when_the_stack_has_no_value_and_the_stack_wins_otherwise():
    """TestStackConfigIsInheritedFromProjectConfig; createConfigValue's strings and JSON."""
    project = project_of(
        "name: test\nconfig:\n  n:\n    type: integer\n    default: 42\n  s:\n    type: string\n    default: ''\n"
        "  l:\n    type: array\n    items: {type: string}\n    default: []\n  o:\n    type: object\n    default: {}"
    )

    merged = merge_stack_config(project, "dev", {"test:n": 7})

    assert {key: value.text for key, value in merged.items()} == {
        "test:n": "7",
        "test:s": "",
        "test:l": "[]",
        "test:o": "{}",
    }


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("type: integer\n    default: hello", "is not of the expected type 'integer'"),
        ("type: array\n    default: []", "does not specify the underlying type"),
        ("type: string\n    default: a\n    value: b", "cannot have both a 'default' and 'value'"),
        ("type: map", "is not one of"),
        ("type: string\n    required: true", "additional properties"),
    ],
)
def test_invalid_declarations_are_refused(declaration, message):
    with pytest.raises(PulumiCliError, match=message):
        project_of(f"name: test\nconfig:\n  key:\n    {declaration}")


@pytest.mark.parametrize(
    ("stack_value", "message"),
    [(2.5, "must be of type 'integer'"), ("two", "must be of type 'integer'"), ([1], "must be of type 'integer'")],
)
def test_stack_values_are_checked_against_their_declared_type(stack_value, message):
    project = project_of("name: test\nconfig:\n  n:\n    type: integer\n    default: 1")

    with pytest.raises(PulumiCliError, match=message):
        merge_stack_config(project, "dev", {"test:n": stack_value})


def test_whole_numbers_and_digit_strings_are_integers():
    project = project_of(
        "name: test\nconfig:\n  n:\n    type: integer\n    default: 1\n  b:\n    type: boolean\n    default: false"
    )

    assert merge_stack_config(project, "dev", {"test:n": "12", "test:b": "true"})["test:n"].text == "12"


# --- our project and stacks -----------------------------------------------------------------------------------


def test_pulumi_yaml_is_a_valid_project():
    pulumi_cli.load_project(ROOT)


def test_no_declared_key_is_required():
    """Every key has a default, so a stack file need not set any (all 11 optional keys once lacked one)."""
    merged = merge_stack_config(pulumi_cli.load_project(ROOT), "empty", {})

    assert {key.partition(":")[2] for key in merged} >= OPTIONAL_KEYS


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_passes_the_cli(stack):
    config = engine_config(ROOT, stack)

    assert config["aws:region"] == "us-east-1"


@pytest.mark.parametrize("stack", STACKS)
def test_unset_optional_keys_reach_the_program_as_empty_values_it_ignores(stack_config, stack):
    config = engine_config(ROOT, stack)
    unset = {key for key in OPTIONAL_KEYS if config[f"{PROJECT}:{key}"] in UNSET}

    args = args_from_config(stack_config(config))

    assert unset, "each stack leaves some optional keys unset"
    assert not {CONFIG_KEYS.get(key) for key in unset} & set(args)


def test_a_stack_missing_a_required_value_is_refused(tmp_path):
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    del project["config"]["workerConcurrency"]["default"]
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())

    with pytest.raises(PulumiCliError, match="Stack 'dev' is missing configuration value 'workerConcurrency'"):
        engine_config(tmp_path, "dev")


def test_untyped_worker_bounds_are_still_read_as_integers(stack_config):
    config = engine_config(ROOT, "dev", {f"{PROJECT}:workerMaxCount": 4, f"{PROJECT}:workerMinCount": "0"})

    args = args_from_config(stack_config(config))

    assert (args["worker_min_count"], args["worker_max_count"]) == (0, 4)
    # Four 16-slot workers' connections need more than dev's db.t4g.small (the budget, tests/aws/test_limits.py).
    assert resolve_args("airflow-dev", {**args, "db_instance_class": "db.t4g.medium"}).worker_max_count == 4


def test_the_minimum_cli_is_the_one_that_accepts_object_config():
    """`type: object` entered project.json in v3.186.0 (#20129), but ValidateConfigValue only accepts a
    mapping for it from v3.187.0 (#20132); `requiredPulumiVersion` is read from Pulumi.yaml by CLIs from
    v3.219.0 (#21627) and ignored as an additional key (project.json additionalProperties: true) before."""
    project = pulumi_cli.load_project(ROOT)

    assert project["requiredPulumiVersion"] == ">=3.187.0"
    assert any(d.get("type") == "object" for d in project["config"].values())
    assert re.search(r"Pulumi CLI 3\.187\.0 or later", (ROOT / "README.md").read_text())


# --- the Python runtime: what a fresh clone's `pulumi up` installs --------------------------------------------


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_runtime_options_are_ones_the_python_language_host_accepts():
    """sdk/python/cmd/pulumi-language-python/main.go `parseOptions`: toolchain pip|poetry|uv, virtualenv a string."""
    runtime = pulumi_cli.load_project(ROOT)["runtime"]

    assert runtime["name"] == "python"
    assert runtime["options"]["toolchain"] in ("pip", "poetry", "uv")
    assert isinstance(runtime["options"]["virtualenv"], str)


def test_the_pip_toolchain_finds_a_requirements_file_that_installs_this_package_pinned():
    """`pulumi up` asks the language host for its packages (pkg/engine/plugins.go -> GetRequiredPackages), which
    calls `EnsureVenv` (sdk/python/cmd/pulumi-language-python/main.go). sdk/python/toolchain/pip.go: `EnsureVenv`
    creates a missing virtualenv through `InstallDependencies`, which runs `pip install -r requirements.txt` in the
    program directory, and returns early without that file (an empty virtualenv: the bug). Ours installs this
    package (-e .) under constraints.txt."""
    assert pulumi_cli.load_project(ROOT)["runtime"]["options"]["toolchain"] == "pip"

    assert requirement_lines() == ["-c constraints.txt", "-e ."]


def test_constraints_pin_every_dependency_exactly_as_pyproject_does():
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()}

    assert dependencies
    for requirement in dependencies:
        assert requirement in pins, requirement
