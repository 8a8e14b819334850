"""AirflowCeleryCluster as a Pulumi component provider, for programs in TypeScript, Go, C#, Java and YAML.

The Pulumi engine runs `provider/__main__.py` (PulumiPlugin.yaml, runtime python) as a resource plugin: it
asks for the package schema (GetSchema) and constructs each AirflowCeleryCluster a program declares
(Construct). pulumi.provider.experimental infers the schema from AirflowCeleryClusterArgs and the component's
output annotations (analyzer.py) and maps the engine's camelCase inputs to the Python names (component.py,
ComponentProvider.map_input_properties). `AirflowCeleryProvider` is that ComponentProvider with three corrections:

- Numbers reach Construct as floats (the wire has one number type), and the SDK's int conversion is
  overwritten with the float before the component sees it. An integer argument's whole float becomes an int
  again; 1.5 stays, for resolve_args to refuse as "a whole number".
- A ConfigError names what the user wrote in their language (`workerCount`, `roleSizes.worker`) and is
  reported as an invalid input property, as the engine expects of a bad input.
- Descriptions are the argument declarations' (aws/arg_declarations.py), with argument names camelCased.

`make schema` writes the schema to schema.json; tests/aws/test_provider.py fails when the two differ.
"""

import inspect
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider import ConstructResult
from pulumi.provider import main as serve
from pulumi.provider.experimental.analyzer import ComponentDefinition
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError

from airflow_celery import __version__
from airflow_celery.aws.annotations import Kind, arg_annotations, arg_types, shape_of
from airflow_celery.aws.arg_declarations import ARGS, camel_case, describe
from airflow_celery.aws.args import ConfigError
from airflow_celery.aws.component import TYPE_TOKEN, AirflowCeleryCluster
from airflow_celery.aws.config import PROJECT, camel_case_args, in_schema_terms

PACKAGE = PROJECT
"""The package name: the first part of every type token (airflow-celery:index:AirflowCeleryCluster)."""
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.json"


class AirflowCeleryProvider(ComponentProvider):
    """The inferred component provider for AirflowCeleryCluster, with the corrections the module describes."""

    def __init__(self) -> None:
        super().__init__([AirflowCeleryCluster], PACKAGE, version=__version__)
        self.schema = json.dumps(tidy(json.loads(self.schema or "{}")))

    def map_inputs(self, inputs: pulumi.Inputs, component_def: ComponentDefinition) -> pulumi.Inputs:
        mapped = super().map_inputs(inputs, component_def)
        annotations = arg_annotations()
        return {key: whole_numbers(value, annotations.get(key)) for key, value in mapped.items()}

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as error:
            if not isinstance(error.inner, ConfigError):
                raise
            renamed = in_schema_terms(error.inner)
            if _argument_of(error.inner.key) is None:
                raise ComponentInitError(renamed) from None  # the resource name: not an input property
            raise InputPropertyError(renamed.key, str(renamed)) from None


def whole_numbers(value: Any, annotation: Any) -> Any:
    """`value` with each float that stands for an int argument as that int (2.0 -> 2; 1.5 stays 1.5)."""
    if annotation is None:
        return value
    shape = shape_of(annotation)
    match shape.kind:
        case Kind.INPUT:
            return value if isinstance(value, pulumi.Output) else whole_numbers(value, shape.inner)
        case Kind.INT if isinstance(value, float) and value.is_integer():
            return int(value)
        case Kind.LIST if isinstance(value, list):
            return [whole_numbers(item, shape.inner) for item in value]
        case Kind.MAPPING if isinstance(value, Mapping):
            return {key: whole_numbers(item, shape.inner) for key, item in value.items()}
        case Kind.RECORD if isinstance(value, Mapping):
            return {key: whole_numbers(item, shape.fields.get(key)) for key, item in value.items()}
    return value


def _argument_of(key: str) -> str | None:
    """The argument an error key starts with (`role_sizes.worker` -> role_sizes), or None (e.g. `name`)."""
    match = re.match(r"[a-z][a-z0-9_]*", key)
    return match[0] if match and match[0] in arg_types() else None


def tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """Every description without its docstring indentation, with argument names in camelCase; an argument's
    description is its declaration's (aws/arg_declarations.py) on one line, as Pulumi.yaml and the README show it."""

    def clean(text: str) -> str:
        return camel_case_args(inspect.cleandoc(text))

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clean(v) if k == "description" and isinstance(v, str) else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    tidied = walk(schema)
    for resource in tidied.get("resources", {}).values():
        for key, spec in resource.get("inputProperties", {}).items():
            for described in (spec, spec.get("items", {})):
                described["description"] = camel_case_args(describe(ARGS_BY_CONFIG_KEY[key]))
    return tidied


ARGS_BY_CONFIG_KEY = {camel_case(arg.name): arg for arg in ARGS}


def schema() -> dict[str, Any]:
    """The package schema exactly as GetSchema returns it."""
    return json.loads(AirflowCeleryProvider().schema or "{}")


def schema_text() -> str:
    """schema.json's content: the schema, indented, keys in the order the inference gives them."""
    return json.dumps(schema(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Serve the provider over gRPC as the engine starts a plugin: `python provider/ ENGINE_ADDRESS [flags]`.

    Prints the port it listens on (127.0.0.1 only) and serves until the engine stops it. This is
    component_provider_host with AirflowCeleryProvider in place of the plain ComponentProvider.
    """
    serve(AirflowCeleryProvider(), sys.argv[1:] if argv is None else argv)


def write_schema() -> int:
    """`make schema`: write schema.json."""
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH} ({TYPE_TOKEN})")
    return 0


if __name__ == "__main__":
    sys.exit(write_schema())
