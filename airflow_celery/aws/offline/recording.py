"""The recording side of the mocks: every registered resource as the engine would have seen it, and the queries
tests and `airflow-celery plan` read them with (plain data, never inside an `apply`).

Pitfalls of reading them: recorded inputs are camelCase (as the engine receives them), numbers arrive as floats,
and a task definition's `containerDefinitions` is a JSON string (`container_definitions()` parses it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from airflow_celery.aws.offline import fake_aws
from airflow_celery.aws.offline.pulumi_internals import deserialize, is_secret_wrapper

COMPONENT_TYPE = "airflow-celery:index:AirflowCeleryCluster"


@dataclass
class Recorded:
    """One registered resource as the engine would have seen it."""

    type: str
    name: str
    urn: str
    id: str
    parent_urn: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secret_inputs: set[str] = field(default_factory=set)
    """Dotted paths of the inputs that were marked secret (e.g. "secretString", "registry")."""
    registered_outputs: dict[str, Any] | None = None
    """What the resource passed to `register_outputs` (components), with secrets unwrapped."""
    secret_output_names: set[str] = field(default_factory=set)
    ignore_changes: list[str] = field(default_factory=list)
    """The resource option `ignore_changes`, as the engine receives it (camelCase property names)."""
    aliases: list[str] = field(default_factory=list)
    """The resource option `aliases`: the names (alias specs) or URNs the engine is told this resource had."""
    dependencies: list[str] = field(default_factory=list)
    """URNs the engine is told this resource depends on (`depends_on`, and resources whose outputs it takes)."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The resource option `custom_timeouts` as sent (create/update/delete durations such as "31m")."""


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and return realistic outputs for the types the component uses."""

    def __init__(self, region: str = fake_aws.REGION) -> None:
        self.region = region
        """The region the provider functions answer with (aws:region), and ARNs and endpoints name."""
        self.records: list[Recorded] = []
        self.generated_secrets: dict[str, list[str]] = {}
        """Resource name -> every secret value the mocks generated for it (passwords, bytes encodings)."""
        self.warnings: list[str] = []
        self.stack_outputs: dict[str, Any] = {}
        self.secret_stack_outputs: set[str] = set()
        self.invokes: list[str] = []
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}
        self.version_salts: dict[str, str] = {}
        """SecretVersion resource name -> a salt that stands for a new value of that secret (a rotation)."""
        self.zones_without: dict[str, set[str]] = {}
        """EC2 instance type -> zone IDs that do not offer it (getInstanceTypeOfferings); every zone offers the rest."""

    # --- the engine's side -------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        outputs = {**args.inputs, **self._computed_outputs(args.typ, args.name, args.inputs)}
        resource_id = outputs.pop("__id", f"{args.name}-id")
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        self.invokes.append(args.token)
        if args.token == fake_aws.OFFERINGS_INVOKE:
            return fake_aws.instance_type_offerings(self.region, args.args, self.zones_without), []
        answer = fake_aws.invoke_answers(self.region).get(args.token)
        if answer is None:
            raise NotImplementedError(f"RecordingMocks has no answer for invoke {args.token}; add one to fake_aws.py")
        return dict(answer), []

    def _computed_outputs(self, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        computed: dict[str, Any] = {}
        if type_token.startswith("aws:"):
            computed["arn"] = fake_aws.arn(type_token, name, self.region)
        builder = fake_aws.OUTPUT_BUILDERS.get(type_token)
        if builder is not None:
            computed.update(builder(self, name, inputs))
        return computed

    def remember_secret(self, name: str, value: str) -> None:
        self.generated_secrets.setdefault(name, [])
        self.generated_secrets[name].append(value)

    # --- what tests read ---------------------------------------------------------------------------

    def of_type(self, type_token: str) -> list[Recorded]:
        return [record for record in self.records if record.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Recorded:
        """The one resource of this type (and name, if given); fails loudly otherwise."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise AssertionError(f"expected one {type_token} named {name!r}, found {len(found)}; there are {names}")
        return found[0]

    def named(self, name: str) -> Recorded:
        found = [record for record in self.records if record.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Recorded | None:
        return next((record for record in self.records if record.urn == urn), None)

    def children_of(self, parent: Recorded) -> list[Recorded]:
        return [record for record in self.records if record.parent_urn == parent.urn]

    @property
    def components(self) -> list[Recorded]:
        return self.of_type(COMPONENT_TYPE)

    def all_secret_values(self) -> set[str]:
        return {value for values in self.generated_secrets.values() for value in values}

    def container_definitions(self, task_definition: Recorded) -> list[dict[str, Any]]:
        return json.loads(task_definition.inputs["containerDefinitions"])

    def all_containers(self) -> Iterator[tuple[Recorded, dict[str, Any]]]:
        for task in self.of_type("aws:ecs/taskDefinition:TaskDefinition"):
            for container in self.container_definitions(task):
                yield task, container

    # --- called by the recording monitor (pulumi_internals.RecordingMonitor) -------------------------

    def record(self, request: Any, urn: str, resource_id: str, outputs: dict[str, Any]) -> None:
        secret_inputs: set[str] = set()
        inputs = _unwrap_secrets(deserialize(request.object), "", secret_inputs)
        self.records.append(
            Recorded(
                type=request.type,
                name=request.name,
                urn=urn,
                id=resource_id,
                parent_urn=request.parent,
                custom=bool(request.custom),
                inputs=dict(inputs),
                outputs=_unwrap_secrets(dict(outputs), "", set()),
                secret_inputs=secret_inputs,
                ignore_changes=list(request.ignoreChanges),
                aliases=_alias_names(request),
                dependencies=list(request.dependencies),
                custom_timeouts=_custom_timeouts(request),
            )
        )

    def record_outputs(self, request: Any) -> None:
        record = self.by_urn(request.urn)
        if record is None:
            return
        secret_paths: set[str] = set()
        outputs = deserialize(request.outputs) if request.HasField("outputs") else {}
        record.registered_outputs = _unwrap_secrets(dict(outputs or {}), "", secret_paths)
        record.secret_output_names = {path.split(".")[0] for path in secret_paths}


def _custom_timeouts(request: Any) -> dict[str, str]:
    if not request.HasField("customTimeouts"):
        return {}
    timeouts = request.customTimeouts
    return {key: getattr(timeouts, key) for key in ("create", "update", "delete") if getattr(timeouts, key)}


def _alias_names(request: Any) -> list[str]:
    """Aliases as sent: alias specs (name, when given) where the monitor supports them, else URNs."""
    names = [alias.spec.name for alias in getattr(request, "aliases", []) if alias.HasField("spec") and alias.spec.name]
    names += [alias.urn for alias in getattr(request, "aliases", []) if alias.urn]
    return names + list(getattr(request, "aliasURNs", []))


def _unwrap_secrets(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Replace Pulumi's secret wrappers with their values; note the dotted path of each secret."""
    if is_secret_wrapper(value):
        secret_paths.add(path)
        return _unwrap_secrets(value.get("value"), path, set())
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value
