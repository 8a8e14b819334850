"""A stack's config, read and validated as `pulumi up` would, and the component built under mocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import set_all_config

from airflow_celery.aws import offline, pulumi_cli
from airflow_celery.aws.args import ConfigError, ResolvedArgs, resolve_args
from airflow_celery.aws.config import PROJECT, validated_args_from_config
from airflow_celery.plan import PlanError

REGION_KEY = "aws:region"


@dataclass(frozen=True)
class StackInput:
    stack: str
    region: str
    name: str
    args: dict[str, Any]
    """What args_from_config read: the component's arguments, as `__main__.py` passes them."""
    config: ResolvedArgs
    """What resolve_args made of them: validated, with every default."""


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """`KEY=VALUE` pairs as stack-file values: KEY bare (this project) or namespaced, VALUE read as YAML."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise PlanError(f"--config {item!r}: expected KEY=VALUE, e.g. workerCount=3 or aws:region=eu-west-1")
        key = key.strip()
        overrides[key if ":" in key else f"{PROJECT}:{key}"] = yaml.safe_load(text) if text.strip() else ""
    return overrides


def engine_config(project_dir: Path, stack: str, overrides: Mapping[str, Any]) -> dict[str, str]:
    """The config the Pulumi CLI would hand the program: Pulumi.yaml's defaults, the stack file, the overrides."""
    for path in (project_dir / "Pulumi.yaml", project_dir / f"Pulumi.{stack}.yaml"):
        if not path.is_file():
            raise PlanError(f"{path} does not exist; run plan in the project directory, or pass --project-dir")
    try:
        return pulumi_cli.engine_config(project_dir, stack, overrides)
    except pulumi_cli.PulumiCliError as error:
        raise PlanError(f"the Pulumi CLI would refuse this stack: {error}") from None


def read_stack(project_dir: Path, stack: str, overrides: tuple[str, ...] = ()) -> StackInput:
    """The stack's arguments, validated by exactly the code `__main__.py` and the component run."""
    config_values = engine_config(project_dir, stack, parse_overrides(overrides))
    set_all_config(config_values, secret_keys=[])
    try:
        name, checked = validated_args_from_config(pulumi.Config(PROJECT), stack)  # errors name the config key
        args = dict(checked)
        resolved = resolve_args(name, args)
    finally:
        set_all_config({}, secret_keys=[])
    region = config_values.get(REGION_KEY)
    if not region:
        raise ConfigError(REGION_KEY, None, "the stack's AWS region, e.g. us-east-1: set it in the stack file")
    return StackInput(stack=stack, region=region, name=name, args=args, config=resolved)


def build(stack_input: StackInput) -> offline.RecordingMocks:
    """The real component, built under the recording mocks in the stack's region."""
    return offline.build_component(
        stack_input.name, stack_input.args, stack=stack_input.stack, region=stack_input.region
    )
