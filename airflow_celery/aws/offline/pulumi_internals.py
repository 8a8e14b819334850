"""Every private part of the Pulumi SDK (pulumi 3.x) the recording mocks touch, in one place.

The public mocks API (`pulumi.runtime.Mocks`, `set_mocks`) gives a resource's name, type and inputs, but not its
URN, parent, resource options or registered outputs, nor which inputs were secret. Those come from here; on an SDK
upgrade, this module is what to check (tests/aws exercise each of them through the recording mocks).
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import ROOT

# rpc.py marks a serialized secret as {_special_sig_key: _special_secret_sig, "value": ...}.
_SIG_KEY, _SECRET_SIG = rpc._special_sig_key, rpc._special_secret_sig


def is_secret_wrapper(value: Any) -> bool:
    """Whether a deserialized property is a secret as the engine receives it."""
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def deserialize(properties: Any) -> Any:
    """A RegisterResource request's protobuf Struct as Python values, secrets still wrapped."""
    return rpc.deserialize_properties(properties)


def reset_root_stack() -> None:
    """Forget the active root Stack: `set_mocks` creates a new one only when none is set in this context (ROOT is
    a ContextVar of settings.py)."""
    ROOT.set(None)


def root_stack_outputs() -> dict[str, Any]:
    """The program's `pulumi.export`s, read off the root Stack resource (its private `outputs` dict)."""
    return dict(getattr(ROOT.get(), "outputs", {}) or {})


def no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


def skip_stack_traces() -> None:
    """No source positions in the RegisterResource requests of this process. For the engine's diagnostics the SDK
    walks the whole Python stack for every resource and turns each frame into a file URI
    (`pulumi.runtime.resource._get_stack_trace`, called by `register_resource` and `read_resource`); offline, no
    engine reads them, and it was 16 % of a component build's CPU (2026-12-07, py-spy under pytest). An empty
    trace is the SDK's own answer when it finds no user frame."""
    sdk_resource._get_stack_trace = no_stack_trace


class RecordingMonitor(MockMonitor):
    """MockMonitor (mocks.py) that also hands each RegisterResource request, with the URN, id and state it
    answered (its private `resources` dict), and each RegisterResourceOutputs request to `recorder`."""

    def __init__(self, mocks: Any):
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources[response.urn]
            self.recorder.record(request, response.urn, registration.id, registration.state)
        return response

    def RegisterResourceOutputs(self, request):
        self.recorder.record_outputs(request)
        return super().RegisterResourceOutputs(request)
