"""The SDK's private parts the offline runner replaces (airflow_celery/aws/offline/pulumi_internals.py)."""

from __future__ import annotations

import inspect

import pulumi
from pulumi.runtime import resource as sdk_resource

from airflow_celery.aws.offline import pulumi_internals
from airflow_celery.aws.offline.recording import RecordingMocks
from airflow_celery.aws.offline.runner import install_mocks


def test_the_sdk_still_builds_each_registration_s_stack_trace_through_the_function_we_replace():
    """On an SDK upgrade that renames it or stops calling it by its module name, replacing it would do nothing."""
    for caller in (sdk_resource.register_resource, sdk_resource.read_resource):
        assert "_get_stack_trace()" in inspect.getsource(caller)


class Thing(pulumi.ComponentResource):
    """A resource class of its own, as ours are: the SDK looks for the third `__init__` on the stack."""

    def __init__(self, name: str):
        super().__init__("test:index:Thing", name)


def test_resources_registered_under_our_mocks_carry_no_stack_trace(monkeypatch):
    seen = []
    monkeypatch.setattr(RecordingMocks, "record", lambda self, request, *_: seen.append(request))
    install_mocks(RecordingMocks(), "dev", None)

    @pulumi.runtime.test
    def program():
        return Thing("thing").urn

    program()
    assert [(r.name, len(r.stackTrace.frames), r.HasField("sourcePosition")) for r in seen] == [("thing", 0, False)]
    assert sdk_resource._get_stack_trace is pulumi_internals.no_stack_trace
