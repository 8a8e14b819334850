"""What the Pulumi CLI does with Pulumi.yaml and Pulumi.<stack>.yaml before a program runs, reproduced.

This machine has no Pulumi CLI, and the mocks start after it would have run. These functions follow its
Go source (pulumi/pulumi at v3.259.0, commit 1b5949891b3c), each citing the file and function it
reproduces, so the stack tests see exactly the config a real `pulumi up -s <stack>` would give the program,
or the error it would stop with:

- `validate_project`: sdk/go/common/workspace/project.json (the schema: `configTypeDeclaration`,
  `simpleConfigType`, `configItemsType`) and project.go `Project.Validate`;
- `merge_stack_config`: pkg/workspace/config.go `mergeConfig` (required keys, defaults) and
  `validateStackConfigValues` / `validateStackConfigValue` (types);
- `validate_config_value`: project.go `ValidateConfigValue`;
- `StackValue`: sdk/go/common/resource/config/object.go `object.MarshalString` (how a stack file's YAML value
  becomes the string the program reads) and pkg/workspace/config.go `createConfigValue` (a project default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SIMPLE_TYPES = ("string", "integer", "boolean", "array", "object")
"""project.json `$defs.simpleConfigType.enum`."""
DECLARATION_KEYS = frozenset({"type", "items", "description", "secret", "default", "value"})
"""project.json `$defs.configTypeDeclaration.properties` (additionalProperties: false)."""
_GO_ATOI = re.compile(r"[+-]?[0-9]+")
"""strconv.Atoi accepts an optional sign and decimal digits, nothing else."""


class PulumiCliError(Exception):
    """What the CLI prints before it refuses to run the program."""


@dataclass(frozen=True)
class StackValue:
    """A config.Value: its text (what the program reads) and whether it is an object (JSON text)."""

    text: str
    object: bool = False

    @classmethod
    def from_stack_yaml(cls, value: Any) -> StackValue:
        """object.MarshalString: strings verbatim; bools and numbers as JSON, not objects; the rest JSON objects."""
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, bool | int | float):
            return cls(json.dumps(value))
        return cls(_go_json(value), object=True)

    @classmethod
    def from_project_default(cls, value: Any) -> StackValue:
        """createConfigValue: string, int and bool through fmt "%v"; anything else (floats too) as a JSON object."""
        if isinstance(value, bool):
            return cls("true" if value else "false")
        if isinstance(value, str | int):
            return cls(str(value))
        return cls(_go_json(value), object=True)

    def content(self) -> Any:
        """validateStackConfigValue: the text, or for an object the JSON it holds."""
        return json.loads(self.text) if self.object else self.text


def _go_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def load_project(project_dir: Path) -> dict[str, Any]:
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    validate_project(project)
    return project


def validate_project(project: Mapping[str, Any]) -> None:
    """project.json's rules for config declarations, then project.go `Project.Validate`."""
    name = project.get("name")
    if not name:
        raise PulumiCliError("project is missing a 'name' attribute")
    for key, declaration in (project.get("config") or {}).items():
        if not isinstance(declaration, Mapping):  # a short-hand value: string, integer, boolean or array
            if not isinstance(declaration, str | int | bool | list):
                raise PulumiCliError(f"config {key!r}: a value must be a string, integer, boolean or array")
            continue
        _check_schema(key, declaration)
        _check_declaration(name, key, declaration)


def _check_schema(key: str, declaration: Mapping[str, Any]) -> None:
    unknown = set(declaration) - DECLARATION_KEYS
    if unknown:
        raise PulumiCliError(f"config {key!r}: additional properties {sorted(unknown)} not allowed")
    if "type" in declaration and declaration["type"] not in SIMPLE_TYPES:
        raise PulumiCliError(f"config {key!r}: type {declaration['type']!r} is not one of {SIMPLE_TYPES}")
    items = declaration.get("items")
    while items is not None:  # configItemsType: a type is required; an array's items too
        if items.get("type") not in SIMPLE_TYPES:
            raise PulumiCliError(f"config {key!r}: items need a type, one of {SIMPLE_TYPES}")
        if items["type"] == "array" and "items" not in items:
            raise PulumiCliError(f"config {key!r}: array items need 'items'")
        items = items.get("items")
    if "secret" in declaration and not isinstance(declaration["secret"], bool):
        raise PulumiCliError(f"config {key!r}: secret must be a boolean")


def _check_declaration(project_name: str, key: str, declaration: Mapping[str, Any]) -> None:
    # yaml.v3 decodes `default: null` to nil: Go's `Default != nil` is false, as if there were no default.
    has_default, has_value = declaration.get("default") is not None, declaration.get("value") is not None
    type_name, items = declaration.get("type"), declaration.get("items")
    if has_default and has_value:
        raise PulumiCliError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
    if ":" not in key or key.startswith(f"{project_name}:"):
        if type_name == "array" and items is None:
            raise PulumiCliError(
                f"The configuration key '{key}' declares an array but does not specify the underlying type via "
                "the 'items' attribute"
            )
        if (
            type_name is not None
            and has_default
            and not validate_config_value(type_name, items, declaration["default"])
        ):
            raise PulumiCliError(
                f"The default value specified for configuration key '{key}' is not of the expected type "
                f"'{full_type_name(type_name, items)}'"
            )
        return
    not_namespaced = f"Configuration key '{key}' is not namespaced by the project and should not define"
    if type_name is not None:
        raise PulumiCliError(f"{not_namespaced} a type")
    if has_default:
        raise PulumiCliError(f"{not_namespaced} a default value")
    if not has_value:
        raise PulumiCliError(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")


def validate_config_value(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """project.go `ValidateConfigValue`, for values as yaml.v3 or encoding/json decode them."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value == int(value)):
            return True
        return isinstance(value, str) and _GO_ATOI.fullmatch(value) is not None
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.get("type", ""), items.get("items"), item) for item in value)


def full_type_name(type_name: str, items: Mapping[str, Any] | None) -> str:
    """project.go `InferFullTypeName`."""
    return f"array<{full_type_name(items.get('type', ''), items.get('items'))}>" if items is not None else type_name


def _full_key(project_name: str, key: str) -> str:
    """config.go `parseConfigKey`: a key without a namespace gets the project's."""
    return key if ":" in key else f"{project_name}:{key}"


def merge_stack_config(
    project: Mapping[str, Any], stack: str, stack_values: Mapping[str, Any]
) -> dict[str, StackValue]:
    """config.go `mergeConfig` with validate=true (`pulumi up`, `preview`): the config the program gets.

    A stack value wins; otherwise the declaration's default (or value) is used. A key of the project's
    namespace with neither is missing, and every missing key is reported in one error. Then each
    explicitly typed key's merged value is checked against its type.
    """
    name = project["name"]
    merged = {_full_key(name, key): StackValue.from_stack_yaml(value) for key, value in stack_values.items()}
    declarations = project.get("config") or {}
    missing = []
    for key in sorted(declarations):
        declaration = declarations[key] if isinstance(declarations[key], Mapping) else {"value": declarations[key]}
        full_key = _full_key(name, key)
        if full_key in merged:
            continue
        has_default, has_value = declaration.get("default") is not None, declaration.get("value") is not None
        if has_default or has_value:
            merged[full_key] = StackValue.from_project_default(
                declaration["default"] if has_default else declaration["value"]
            )
        elif full_key.partition(":")[0] == name:
            missing.append(key)
    if missing:
        raise PulumiCliError(_missing_keys_message(stack, missing))
    for key in sorted(declarations):
        declaration = declarations[key]
        if isinstance(declaration, Mapping) and declaration.get("type") is not None:
            value = merged[_full_key(name, key)]
            if not validate_config_value(declaration["type"], declaration.get("items"), value.content()):
                raise PulumiCliError(
                    f"Stack '{stack}' with configuration key '{key}' must be of type "
                    f"'{full_type_name(declaration['type'], declaration.get('items'))}'"
                )
    return merged


def _missing_keys_message(stack: str, keys: list[str]) -> str:
    """config.go `missingStackConfigurationKeysError` and `formatMissingKeys`."""
    if len(keys) == 1:
        return f"Stack '{stack}' is missing configuration value '{keys[0]}'"
    keys = sorted(keys)
    listed = ", ".join(f"'{key}'" for key in keys[:-2])
    listed = f"{listed}, " if listed else ""
    return f"Stack '{stack}' is missing configuration values {listed}'{keys[-2]}' and '{keys[-1]}'"


def stack_values(project_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` mapping of Pulumi.<stack>.yaml, as YAML values."""
    return (yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}


def engine_config(project_dir: Path, stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`pulumi up -s <stack>`'s config for the program (`namespace:key` -> text), or the CLI's error.

    `overrides` are stack values set on top of the stack file, as `pulumi config set` would.
    """
    project = load_project(project_dir)
    values = {**stack_values(project_dir, stack), **(overrides or {})}
    merged = merge_stack_config(project, stack, values)
    return {key: value.text for key, value in merged.items()}


def read_back(text: str) -> Any:
    """A config text as a YAML value again ("2" -> 2, "true" -> True, JSON -> lists and mappings), for asserts."""
    return yaml.safe_load(text)
