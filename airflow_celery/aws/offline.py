"""Run the component or a whole Pulumi program offline against recording mocks.

`airflow-celery plan` and the tests both use this: the plan lists what the real component registers.

`RecordingMocks` records every registered resource (type token, name, inputs, parent, outputs) and answers
the provider functions the component invokes. Use `build_component` for the component alone and
`run_program` for a stack's `__main__.py` with stack config. Both return the mocks after the program has
finished, so tests assert on plain recorded data, never inside an `apply`.

Mock pitfalls (see the facts file): recorded inputs are camelCase, numbers arrive as floats, and
`containerDefinitions` is a JSON string.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import runpy
import string
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.settings import ROOT

PROJECT = "airflow-celery"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
ECR_PASSWORD = "mock-ecr-registry-password"
GIVEN_VPC_ID = "vpc-0123456789abcdef0"
# A given VPC answers getVpc with these ranges (a primary and a secondary block).
GIVEN_VPC_CIDRS = ("10.20.0.0/16", "100.64.0.0/16")
COMPONENT_TYPE = "airflow-celery:index:AirflowCeleryCluster"
_ALPHANUMERIC = string.ascii_letters + string.digits


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


def _seed(name: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{name}".encode()).digest()


def _alphanumeric(name: str, length: int) -> str:
    """A deterministic alphanumeric string, different per resource name."""
    out, counter = [], 0
    while len(out) < length:
        for byte in _seed(name, f"password-{counter}"):
            out.append(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)])
        counter += 1
    return "".join(out[:length])


def _random_bytes(name: str, length: int) -> bytes:
    raw, counter = b"", 0
    while len(raw) < length:
        raw += _seed(name, f"bytes-{counter}")
        counter += 1
    return raw[:length]


def _arn(type_token: str, name: str, region: str = REGION) -> str:
    """arn:aws:<service>:<region>:<account>:<resource>/<name> for an `aws:<service>/...` token."""
    service = type_token.split(":")[1].split("/")[0]
    resource = type_token.rsplit(":", 1)[-1].lower()
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}/{name}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and return realistic outputs for the types the component uses."""

    def __init__(self, region: str = REGION) -> None:
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
        self.zones_without: dict[str, set[str]] = {}
        """EC2 instance type -> zone IDs that do not offer it (getInstanceTypeOfferings); every zone offers the rest."""
        """SecretVersion resource name -> a salt that stands for a new value of that secret (a rotation)."""

    # --- the engine's side -------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        outputs = {**args.inputs, **self._computed_outputs(args.typ, args.name, args.inputs)}
        resource_id = outputs.pop("__id", f"{args.name}-id")
        return resource_id, outputs

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        self.invokes.append(args.token)
        if args.token == OFFERINGS_INVOKE:
            return self._offerings(args.args), []
        answer = _invokes(self.region).get(args.token)
        if answer is None:
            raise NotImplementedError(f"RecordingMocks has no answer for invoke {args.token}; add one to offline.py")
        return dict(answer), []

    def _offerings(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeInstanceTypeOfferings by zone ID: each asked type in every zone but those in zones_without."""
        asked = [value for f in request.get("filters", []) if f["name"] == "instance-type" for value in f["values"]]
        zone_ids = _zone_ids(self.region)
        pairs = [(t, zone) for t in asked for zone in zone_ids if zone not in self.zones_without.get(t, set())]
        return {
            "id": self.region,
            "instanceTypes": [t for t, _ in pairs],
            "locations": [zone for _, zone in pairs],
            "locationTypes": ["availability-zone-id"] * len(pairs),
        }

    def _computed_outputs(self, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        computed: dict[str, Any] = {}
        if type_token.startswith("aws:"):
            computed["arn"] = _arn(type_token, name, self.region)
        builder = _OUTPUT_BUILDERS.get(type_token)
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

    # --- called by the recording monitor -----------------------------------------------------------

    def _record(self, request: Any, urn: str, resource_id: str, outputs: dict[str, Any]) -> None:
        secret_inputs: set[str] = set()
        inputs = _unwrap_secrets(rpc.deserialize_properties(request.object), "", secret_inputs)
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

    def _record_outputs(self, request: Any) -> None:
        record = self.by_urn(request.urn)
        if record is None:
            return
        secret_paths: set[str] = set()
        outputs = rpc.deserialize_properties(request.outputs) if request.HasField("outputs") else {}
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


def _is_secret_wrapper(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _unwrap_secrets(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Replace Pulumi's secret wrappers with their values; note the dotted path of each secret."""
    if _is_secret_wrapper(value):
        secret_paths.add(path)
        return _unwrap_secrets(value.get("value"), path, set())
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value


class _RecordingMonitor(MockMonitor):
    """MockMonitor that also tells the mocks each resource's URN, parent and registered outputs."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recorder._record(request, response.urn, registration.id, registration.state)
        return response

    def RegisterResourceOutputs(self, request):
        self.recorder._record_outputs(request)
        return super().RegisterResourceOutputs(request)


class _WarningRecorder(logging.Handler):
    def __init__(self, mocks: RecordingMocks):
        super().__init__(level=logging.WARNING)
        self.mocks = mocks

    def emit(self, record: logging.LogRecord) -> None:
        self.mocks.warnings.append(record.getMessage())


# --- realistic outputs per resource type ---------------------------------------------------------


def _random_password(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    value = _alphanumeric(name, int(inputs.get("length", 16)))
    mocks.remember_secret(name, value)
    return {"result": value, "bcryptHash": f"$2a$10${value}"}


def _random_id_outputs(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    raw = _random_bytes(name, int(inputs.get("byteLength", 4)))
    return {"hex": raw.hex(), "dec": str(int.from_bytes(raw, "big")), "b64Url": base64.urlsafe_b64encode(raw).decode()}


def _random_bytes_outputs(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    raw = _random_bytes(name, int(inputs.get("length", 32)))
    encodings = {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
    for value in (*encodings.values(), base64.urlsafe_b64encode(raw).decode()):
        mocks.remember_secret(name, value)
    return encodings


def _load_balancer(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": inputs.get("name") or name,
        "dnsName": f"{name}-1234567890.{mocks.region}.elb.amazonaws.com",
        "zoneId": "Z35SXDOTRQ7X7K",
        "arnSuffix": f"app/{inputs.get('name') or name}/50dc6c495c0c9188",
    }


def _rds_instance(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    address = f"{name}.abcdefghijkl.{mocks.region}.rds.amazonaws.com"
    # The provider names the instance (identifier) when the program does not: the resource name plus a suffix.
    return {"address": address, "endpoint": f"{address}:5432", "port": 5432, "identifier": f"{name}-0a1b2c3d"}


def _ecr_repository(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{mocks.region}.amazonaws.com/{inputs.get('name', name)}",
        "registryId": ACCOUNT_ID,
    }


def _docker_image(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    image_name = str(inputs.get("imageName", name))
    repository = image_name.rsplit(":", 1)[0] if ":" in image_name.rsplit("/", 1)[-1] else image_name
    digest = hashlib.sha256(image_name.encode()).hexdigest()
    return {"repoDigest": f"{repository}@sha256:{digest}", "baseImageName": image_name}


def _replication_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # AWS names the member clusters `<replication group id>-001`, `-002`, ... (one per num_cache_clusters).
    members = [f"{name}-{index:03d}" for index in range(1, int(inputs.get("numCacheClusters", 1)) + 1)]
    return {"primaryEndpointAddress": f"master.{name}.abcdef.use1.cache.amazonaws.com", "port": 6379,
            "memberClusters": members}  # fmt: skip


def _metric_alarm(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # Auto-named like every physical name the program leaves to the provider: the resource name plus a suffix.
    named = inputs.get("name") or f"{name}-0a1b2c3"
    return {"name": named, "arn": f"arn:aws:cloudwatch:{mocks.region}:{ACCOUNT_ID}:alarm:{named}"}


def _log_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    # The provider's LogGroup.arn has no trailing ":*" (unlike DescribeLogGroups' arn).
    named = inputs.get("name") or name
    return {"name": named, "arn": f"arn:aws:logs:{mocks.region}:{ACCOUNT_ID}:log-group:{named}"}


def _target_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    named = inputs.get("name") or f"{inputs.get('namePrefix', '')}{name[-8:]}"
    return {"name": named, "arnSuffix": f"targetgroup/{named}/73e2d6bc24d8a067"}


def _named(key: str = "name") -> Any:
    def build(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {key: inputs.get(key) or name}

    return build


def _security_group(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"__id": f"sg-{hashlib.sha256(name.encode()).hexdigest()[:17]}"}


def _dns_namespace(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"hostedZone": "Z0123456789ABCDEFGHIJ", "__id": f"ns-{hashlib.sha256(name.encode()).hexdigest()[:16]}"}


def _task_definition(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"revision": 1, "arnWithoutRevision": _arn("aws:ecs/taskDefinition:TaskDefinition", name, mocks.region)}


def _s3_bucket(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket") or f"{name}-0123456789"
    return {"bucket": bucket, "__id": bucket, "arn": f"arn:aws:s3:::{bucket}"}


def _secret_version(mocks: RecordingMocks, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Secrets Manager gives every new value a new version id; here it follows the value (and a test's salt)."""
    value = str(inputs.get("secretString", ""))
    salt = mocks.version_salts.get(name, "")
    return {"versionId": hashlib.sha256(f"{salt}{value}".encode()).hexdigest()[:32], "versionStages": ["AWSCURRENT"]}


_OUTPUT_BUILDERS = {
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomBytes:RandomBytes": _random_bytes_outputs,
    "random:index/randomId:RandomId": _random_id_outputs,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:ecr/repository:Repository": _ecr_repository,
    "docker:index/image:Image": _docker_image,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": _dns_namespace,
    "aws:ecs/cluster:Cluster": _named(),
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/service:Service": _named(),
    "aws:iam/role:Role": _named(),
    "aws:lambda/function:Function": _named(),
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:secretsmanager/secret:Secret": _named(),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:rds/subnetGroup:SubnetGroup": _named(),
    "aws:elasticache/subnetGroup:SubnetGroup": _named(),
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
}


OFFERINGS_INVOKE = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"


def _zone_names(region: str) -> list[str]:
    return list(AVAILABILITY_ZONES) if region == REGION else [f"{region}{zone}" for zone in "abc"]


def _zone_ids(region: str) -> list[str]:
    prefix = "use1-" if region == REGION else f"{region}-"
    return [f"{prefix}az{i + 1}" for i in range(len(_zone_names(region)))]


def _invokes(region: str) -> dict[str, dict[str, Any]]:
    """The answers of the provider functions the component invokes, for `region`."""
    return {
        "aws:index/getAvailabilityZones:getAvailabilityZones": {
            "id": region,
            "names": _zone_names(region),
            "zoneIds": _zone_ids(region),
            "groupNames": [region],
        },
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            "id": region,
            "authorizationToken": base64.b64encode(f"AWS:{ECR_PASSWORD}".encode()).decode(),
            "userName": "AWS",
            "password": ECR_PASSWORD,
            "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
            "expiresAt": "2030-01-01T00:00:00Z",
        },
        "aws:ec2/getVpc:getVpc": {
            "id": GIVEN_VPC_ID,
            "cidrBlock": GIVEN_VPC_CIDRS[0],
            "cidrBlockAssociations": [
                {"associationId": f"vpc-cidr-assoc-{i}", "cidrBlock": cidr, "state": "associated"}
                for i, cidr in enumerate(GIVEN_VPC_CIDRS)
            ],
        },
        "aws:index/getRegion:getRegion": {
            "id": region,
            "name": region,
            "region": region,
            "description": "US East (N. Virginia)" if region == REGION else region,
            "endpoint": f"ec2.{region}.amazonaws.com",
        },
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "id": ACCOUNT_ID,
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/test",
            "userId": "AIDATEST",
        },
        "aws:index/getPartition:getPartition": {
            "id": "aws",
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "reverseDnsSuffix": "com.amazonaws",
        },
    }


# --- running things ------------------------------------------------------------------------------


def _ensure_event_loop() -> None:
    """Pulumi's mock runner uses the thread's current event loop; code that ran before (asyncio.run) may have
    closed or unset it."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _install(mocks: RecordingMocks, stack: str, config: Mapping[str, Any] | None) -> None:
    _ensure_event_loop()
    # A fresh root Stack per run: set_mocks only creates one when none is active in this context.
    ROOT.set(None)
    logger = logging.getLogger(f"airflow_celery.tests.pulumi.{id(mocks)}")
    logger.propagate = False
    logger.addHandler(_WarningRecorder(mocks))
    pulumi.runtime.set_all_config(config_map(config or {}), secret_keys=[])
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=_RecordingMonitor(mocks)
    )


def config_map(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the engine passes it: `project:key` -> string (JSON for structured values)."""
    result = {}
    for key, value in config.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        result[full_key] = value if isinstance(value, str) else json.dumps(value)
    return result


def _capture_stack_outputs(mocks: RecordingMocks) -> pulumi.Output[Any]:
    """Resolve the program's exports into `mocks.stack_outputs` and note which are secret."""
    stack = ROOT.get()
    exports = {name: pulumi.Output.from_input(value) for name, value in (getattr(stack, "outputs", {}) or {}).items()}

    async def capture() -> None:
        for name, output in exports.items():
            if await output.is_secret():
                mocks.secret_stack_outputs.add(name)
            mocks.stack_outputs[name] = await output.future()

    return pulumi.Output.from_input(capture())


def build_component(
    name: str,
    args: Mapping[str, Any] | None = None,
    stack: str = "dev",
    rotated: Iterable[str] = (),
    region: str = REGION,
    zones_without: Mapping[str, Iterable[str]] | None = None,
) -> RecordingMocks:
    """Build one AirflowCeleryCluster under mocks; return the mocks once every output has resolved.

    `rotated` names SecretVersion resources whose value is new in this build (they get a new version id);
    `zones_without` maps an EC2 instance type to the zone IDs that do not offer it.
    """
    from airflow_celery.aws.component import AirflowCeleryCluster

    mocks = RecordingMocks(region)
    mocks.zones_without = {t: set(zones) for t, zones in (zones_without or {}).items()}
    mocks.version_salts = {version: "rotated" for version in rotated}
    _install(mocks, stack, None)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        component = AirflowCeleryCluster(name, dict(args) if args is not None else None)
        return pulumi.Output.all(*component.outputs.values())

    program()
    return mocks


def run_program(path_to_main_py: str | os.PathLike[str], stack: str, config: Mapping[str, Any]) -> RecordingMocks:
    """Run a Pulumi program file (a stack's __main__.py) under mocks with this stack config.

    Runs in the program's directory, as `pulumi up` does. Config keys without a namespace get
    the project's (`airflow-celery:`); non-string values are passed as JSON.
    """
    program_path = Path(path_to_main_py).resolve()
    mocks = RecordingMocks()
    _install(mocks, stack, config)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        previous_cwd = os.getcwd()
        sys.path.insert(0, str(program_path.parent))
        try:
            os.chdir(program_path.parent)
            runpy.run_path(str(program_path), run_name="__main__")
        finally:
            os.chdir(previous_cwd)
            sys.path.remove(str(program_path.parent))
        return _capture_stack_outputs(mocks)

    program()
    return mocks
