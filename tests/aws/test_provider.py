"""The component for every Pulumi language: the inferred schema, schema.json, and the provider plugin itself."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import types
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    errors_pb2,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
    status_pb2,
)

from airflow_celery import __version__
from airflow_celery.aws.args import AirflowCeleryClusterArgs, RedisMode, arg_annotations, input_of
from airflow_celery.aws.component import OUTPUT_NAMES, TYPE_TOKEN, AirflowCeleryCluster
from airflow_celery.aws.config import camel_case
from airflow_celery.aws.offline.pulumi_internals import RecordingMonitor
from airflow_celery.aws.offline.runner import install_mocks
from airflow_celery.aws.provider import SCHEMA_PATH, AirflowCeleryProvider, schema, schema_text, whole_numbers
from tests.aws import harness

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "provider"
SERVICE = "aws:ecs/service:Service"


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return schema()


@pytest.fixture(scope="module")
def component(package) -> dict[str, Any]:
    return package["resources"][TYPE_TOKEN]


# --- schema.json ---------------------------------------------------------------------------------------------


def test_committed_schema_is_current():
    assert SCHEMA_PATH.read_text() == schema_text(), "run: make schema"


def test_schema_names_the_package_and_its_version(package):
    assert package["name"] == "airflow-celery"
    assert package["version"] == __version__


def test_schema_has_the_component_token(package):
    assert list(package["resources"]) == ["airflow-celery:index:AirflowCeleryCluster"]
    assert package["resources"][TYPE_TOKEN]["isComponent"] is True


def test_every_argument_is_an_optional_input_with_a_type_and_a_description(component):
    inputs = component["inputProperties"]

    assert set(inputs) == {camel_case(name) for name in arg_annotations()}
    assert component["requiredInputs"] == []
    for name, spec in inputs.items():
        assert "type" in spec or "$ref" in spec, name
        assert len(spec["description"]) > 20, name
        assert "\n    " not in spec["description"], f"{name}: docstring indentation left in"


def test_descriptions_name_arguments_as_the_other_languages_write_them(component):
    description = component["inputProperties"]["vpcId"]["description"]

    assert "`publicSubnetIds`" in description
    assert "public_subnet_ids" not in json.dumps(component)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("workerCount", "integer"), ("dbMultiAz", "boolean"), ("vpcCidr", "string"), ("allowedCidrs", "array")],
)
def test_arguments_keep_their_python_types(component, name, kind):
    assert component["inputProperties"][name]["type"] == kind


def test_only_the_arguments_that_may_be_outputs_take_outputs(component):
    """A plain input can't be an Output in another language's SDK, so resolve_args can check it before deploy."""
    may_be_outputs = {camel_case(key) for key, annotation in arg_annotations().items() if input_of(annotation)}
    inputs = component["inputProperties"]

    assert may_be_outputs == {"vpcId", "certificateArn", "image"}
    for name, spec in inputs.items():
        assert spec.get("plain", False) is (name not in may_be_outputs), name
    for name in ("publicSubnetIds", "privateSubnetIds"):  # a plain list of ids that may each be an Output
        assert inputs[name]["plain"] is True
        assert "plain" not in inputs[name]["items"]


def test_role_sizes_are_a_map_of_a_typed_size(package, component):
    role_sizes = component["inputProperties"]["roleSizes"]
    size_type = package["types"]["airflow-celery:index:RoleSizeArgs"]

    assert role_sizes["additionalProperties"]["$ref"] == "#/types/airflow-celery:index:RoleSizeArgs"
    assert {name: spec["type"] for name, spec in size_type["properties"].items()} == {
        "cpu": "integer",
        "memory": "integer",
    }
    assert "required" not in size_type, "cpu or memory alone overrides the role's default (resolve_args)"


def test_redis_mode_is_an_enum_of_the_modes(package, component):
    enum = package["types"]["airflow-celery:index:RedisMode"]

    assert component["inputProperties"]["redisMode"]["$ref"] == "#/types/airflow-celery:index:RedisMode"
    assert enum["type"] == "string"
    assert [value["value"] for value in enum["enum"]] == [mode.value for mode in RedisMode]


def test_every_output_is_a_described_string(component):
    outputs = component["properties"]

    assert set(outputs) == {camel_case(name) for name in OUTPUT_NAMES}
    assert sorted(component["required"]) == sorted(outputs)
    for name, spec in outputs.items():
        assert spec["type"] == "string", name
        assert len(spec["description"]) > 20, name


def test_plugin_manifest_runs_the_python_runtime_in_its_own_venv():
    manifest = yaml.safe_load((PLUGIN_DIR / "PulumiPlugin.yaml").read_text())

    assert manifest["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    requirements = (PLUGIN_DIR / "requirements.txt").read_text().split("\n")
    assert "-c ../constraints.txt" in requirements
    assert "-e .." in requirements


def test_plugin_requirements_install_this_repository_with_pip_run_in_the_plugin_directory():
    """The Pulumi CLI creates provider/venv and runs `python -m pip install -r requirements.txt` with the plugin
    directory as its working directory (sdk/python/toolchain/pip.go, InstallDependencies): `-e ..` there is this
    repository. pip's own dry run, from the same directory, resolves it."""
    dry_run = ["--dry-run", "--no-deps", "--no-build-isolation", "--quiet", "--report", "-"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", *dry_run, "-r", "requirements.txt"],
        cwd=PLUGIN_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (installed,) = json.loads(result.stdout)["install"]

    assert installed["metadata"]["name"] == "airflow-celery"
    assert installed["download_info"]["url"] == ROOT.as_uri()
    assert installed["download_info"]["dir_info"] == {"editable": True}


# --- what the SDK's inference accepts (pulumi 3.272.0, pulumi/provider/experimental) ---------------------------
# Each of these is why args.py and component.py are written as they are; if an SDK upgrade lifts a limit, the
# test says so and the workaround can go.


def _analyze(source: str) -> None:
    module = types.ModuleType("inference_probe")
    # A throwaway module (the analyzer reads classes, not files), compiled without this file's own
    # `from __future__ import annotations`.
    exec(compile(source, "<inference probe>", "exec", dont_inherit=True), module.__dict__)
    Analyzer("probe").analyze([module.Component])


_PROBE = """
{future}
from typing import Literal, TypedDict
import pulumi
class Args(TypedDict, total=False):
    value: {value}
class Component(pulumi.ComponentResource):
    def __init__(self, name: str, args: {args}, opts=None): ...
"""


@pytest.mark.parametrize(
    ("future", "value", "args", "error"),
    [
        # analyzer.py analyze_property: a Literal is neither simple, a list, a dict nor an enum
        ("", 'Literal["a", "b"]', "Args", TypeError),
        # analyzer.py analyze_component reads `args`' annotation as a class (its __mro__); a union has none
        ("", "int", "Args | None", AttributeError),
        # inspect.get_annotations without eval_str: postponed annotations stay strings
        ("from __future__ import annotations", "int", "Args", AttributeError),
    ],
    ids=["literal", "optional-args", "postponed-annotations"],
)
def test_inference_refuses_what_args_and_component_avoid(future, value, args, error):
    with pytest.raises(error):
        _analyze(_PROBE.format(future=future, value=value, args=args))


def test_inference_accepts_a_plain_args_annotation():
    _analyze(_PROBE.format(future="", value="int", args="Args"))


def test_the_plain_component_provider_passes_integers_on_as_floats():
    """component.py map_input_properties computes int(value), then overwrites it with the float: the reason for
    AirflowCeleryProvider.map_inputs."""
    plain = ComponentProvider([AirflowCeleryCluster], "airflow-celery")
    definition = plain._component_defs["AirflowCeleryCluster"]

    mapped = plain.map_inputs({"workerCount": 2.0, "roleSizes": {"worker": {"cpu": 1024.0}}}, definition)

    assert type(mapped["worker_count"]) is float
    assert type(mapped["role_sizes"]["worker"]["cpu"]) is float
    fixed = AirflowCeleryProvider().map_inputs(
        {"workerCount": 2.0, "roleSizes": {"worker": {"cpu": 1024.0}}}, definition
    )
    assert fixed == {"worker_count": 2, "role_sizes": {"worker": {"cpu": 1024}}}
    assert type(fixed["worker_count"]) is int


# --- the plugin as the engine runs it ------------------------------------------------------------------------


class FakeEngine(engine_pb2_grpc.EngineServicer, resource_pb2_grpc.ResourceMonitorServicer):
    """The two services a plugin calls back during Construct, on one 127.0.0.1 port: the engine (logs, root
    resource) and the resource monitor, which hands every registration to the project's recording mocks."""

    def __init__(self) -> None:
        self.mocks = harness.RecordingMocks()
        self.monitor = RecordingMonitor(self.mocks)
        self.logs: list[str] = []
        self.address = ""
        """host:port, once the server listens."""

    def reset(self) -> harness.RecordingMocks:
        self.mocks = harness.RecordingMocks()
        self.monitor = RecordingMonitor(self.mocks)
        return self.mocks

    # engine
    def Log(self, request: Any, context: Any) -> Any:
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.SetRootResourceResponse()

    # resource monitor: MockMonitor answers with the same messages, except for SupportsFeature
    def SupportsFeature(self, request: Any, context: Any) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=self.monitor.SupportsFeature(request).hasSupport)

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:
        return self.monitor.GetDeploymentInfo(request)

    def Invoke(self, request: Any, context: Any) -> Any:
        return self.monitor.Invoke(request)

    def RegisterResource(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterResourceOutputs(request)

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterPackage(request)

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:
        return self.monitor.SignalAndWaitForShutdown(request)


@pytest.fixture(scope="module")
def engine() -> Any:
    fake = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    engine_pb2_grpc.add_EngineServicer_to_server(fake, server)
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(fake, server)
    fake.address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    yield fake
    server.stop(grace=None)


@pytest.fixture(scope="module")
def plugin(engine, tmp_path_factory) -> Any:
    """`python provider/ ENGINE_ADDRESS`, as pulumi-language-python's RunPlugin starts a plugin directory with a
    __main__.py (sdk/python/cmd/pulumi-language-python/main.go, RunPlugin), from another working directory.
    The plugin prints its port on the first line of stdout, which is how the engine finds it."""
    workdir = tmp_path_factory.mktemp("program")
    with (workdir / "plugin.stderr").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(PLUGIN_DIR), engine.address],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    try:
        first_line = _read_line(process, timeout=60, stderr=workdir / "plugin.stderr")
        assert first_line.strip().isdigit(), f"expected the port, got {first_line!r}"
        with grpc.insecure_channel(f"127.0.0.1:{first_line.strip()}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _read_line(process: subprocess.Popen, timeout: float, stderr: Path) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=timeout):
            raise AssertionError(f"the plugin printed no port within {timeout} s: {stderr.read_text()}")
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"the plugin exited ({process.poll()}): {stderr.read_text()}")
    return line


def test_plugin_serves_the_committed_schema_over_grpc(plugin):
    response = plugin.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=10)

    assert json.loads(response.schema) == json.loads(SCHEMA_PATH.read_text())


def test_plugin_reports_the_package_version(plugin):
    assert plugin.GetPluginInfo(empty_pb2.Empty(), timeout=10).version == __version__


def construct_request(engine: FakeEngine, inputs: dict[str, Any]) -> Any:
    """A ConstructRequest as the engine sends it for `new AirflowCeleryCluster("poly", inputs)`."""
    struct = struct_pb2.Struct()
    struct.update(inputs)  # a Struct has one number type: every int arrives as a float
    return provider_pb2.ConstructRequest(
        project="etl",
        stack="dev",
        organization="organization",
        monitorEndpoint=engine.address,
        type=TYPE_TOKEN,
        name="poly",
        inputs=struct,
    )


def test_plugin_constructs_the_cluster_over_grpc(engine, plugin):
    mocks = engine.reset()

    response = plugin.Construct(construct_request(engine, {"workerCount": 2, "workerConcurrency": 8}), timeout=120)

    assert response.urn.endswith("airflow-celery:index:AirflowCeleryCluster::poly")
    assert set(response.state.fields) == {camel_case(name) for name in OUTPUT_NAMES}
    assert response.state.fields["clusterName"].string_value == "poly-cluster"
    assert mocks.one(SERVICE, "poly-worker-service").inputs["desiredCount"] == 2


def test_plugin_reports_a_bad_value_as_an_invalid_input_property(engine, plugin):
    mocks = engine.reset()

    with pytest.raises(grpc.RpcError) as caught:
        plugin.Construct(construct_request(engine, {"workerCount": 1.5}), timeout=120)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    (packed,) = status_pb2.Status.FromString(details).details
    error = errors_pb2.InputPropertiesError()
    packed.Unpack(error)
    assert [(e.property_path, e.reason) for e in error.errors] == [
        ("workerCount", "workerCount=1.5 is not valid: a whole number")
    ]
    assert mocks.records == [], "nothing is registered for a refused value"


# --- Construct, under the project's mocks --------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> AirflowCeleryProvider:
    return AirflowCeleryProvider()


def construct(provider: AirflowCeleryProvider, inputs: dict[str, Any], name: str = "poly") -> tuple[Any, dict]:
    """Construct as the engine asks it of the provider: camelCase inputs, every number a float."""
    mocks = harness.RecordingMocks()
    install_mocks(mocks, "dev", None)
    state: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        result = provider.construct(name, TYPE_TOKEN, inputs, pulumi.ResourceOptions())
        return pulumi.Output.all(**result.state).apply(state.update)

    program()
    return mocks, state


def test_construct_builds_the_cluster_and_returns_every_output(provider):
    mocks, state = construct(provider, {"workerCount": 2.0, "workerConcurrency": 8.0, "redisMode": "elasticache"})

    (component,) = mocks.components
    assert component.name == "poly"
    assert mocks.one(SERVICE, "poly-worker-service").inputs["desiredCount"] == 2
    assert mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert set(state) == {camel_case(name) for name in OUTPUT_NAMES}
    assert state["airflowUrl"].startswith("http://")


def test_construct_takes_nested_role_sizes_with_float_numbers(provider):
    mocks, _ = construct(provider, {"roleSizes": {"worker": {"cpu": 2048.0, "memory": 4096.0}}})

    worker = mocks.one("aws:ecs/taskDefinition:TaskDefinition", "poly-worker-task")
    assert (worker.inputs["cpu"], worker.inputs["memory"]) == ("2048", "4096")


@pytest.mark.parametrize(
    ("inputs", "path", "reason"),
    [
        ({"workerCount": 1.5}, "workerCount", "workerCount=1.5 is not valid: a whole number"),
        ({"workerCount": 2.0, "workerMinCount": 3.0}, "workerMinCount", "at most workerCount (2)"),
        ({"roleSizes": {"worker": {"cpu": 1000.0}}}, "roleSizes.worker", "a size Fargate runs"),
    ],
)
def test_a_refused_value_is_an_invalid_input_property_in_the_callers_words(provider, inputs, path, reason):
    with pytest.raises(InputPropertyError) as caught:
        construct(provider, inputs)

    assert caught.value.property_path == path
    assert reason in caught.value.reason


def test_whole_numbers_turns_whole_floats_back_into_ints_only_where_an_int_is_declared():
    annotations = AirflowCeleryClusterArgs.__annotations__
    role_sizes = {"worker": {"cpu": 1024.0}}

    assert whole_numbers(2.0, annotations["worker_count"]) == 2
    assert type(whole_numbers(2.0, annotations["worker_count"])) is int
    assert whole_numbers(1.5, annotations["worker_count"]) == 1.5
    assert whole_numbers(role_sizes, annotations["role_sizes"]) == {"worker": {"cpu": 1024}}
    assert whole_numbers("2.0", annotations["vpc_cidr"]) == "2.0"
    assert whole_numbers({"team": "2"}, annotations["tags"]) == {"team": "2"}


def test_a_bad_resource_name_is_refused_with_the_name_error(provider):
    from pulumi.provider.server import ComponentInitError

    with pytest.raises(ComponentInitError) as caught:
        construct(provider, {}, name="Airflow_Dev")

    assert str(caught.value.inner).startswith("name='Airflow_Dev' is not valid: lowercase letters")


def test_the_readme_yaml_program_constructs(provider, component):
    """The README's YAML program: its type token and properties are the schema's, and its values construct."""
    block = re.search(r"```yaml\n(name: etl\n.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert block, "README.md has no YAML program"
    program = yaml.safe_load(block[1].replace("<digest>", "ab" * 32))
    (resource,) = program["resources"].values()

    assert resource["type"] == TYPE_TOKEN
    assert set(resource["properties"]) <= set(component["inputProperties"])
    as_sent = json.loads(json.dumps(resource["properties"]), parse_int=float)  # the wire's numbers are floats
    mocks, state = construct(provider, as_sent, name="airflow")
    assert mocks.one(SERVICE, "airflow-worker-service").inputs["desiredCount"] == 3
    assert set(program["outputs"]) <= set(state)
