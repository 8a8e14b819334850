"""What the deploy relies on from the AWS provider, read from the installed pulumi-aws (the mocks check none of it).

The Terraform code behind these resources is not installed here; its documented behaviour, shipped in the SDK's
docstrings, is. The runtime half (a FunctionError fails the invocation) is in terraform-provider-aws,
internal/service/lambda/invocation.go, `invoke`, cited in aws/migration.py.
"""

from __future__ import annotations

import inspect
import re

import pulumi_aws as aws


def _source_param(cls: type, name: str) -> str:
    source = " ".join(inspect.getsource(cls).split())
    match = re.search(rf":param [^:]*\b{name}: (.*?)(?= :param | \"\"\")", source)
    assert match, f"{cls.__name__} documents no {name}"
    return match.group(1)


def test_an_invocation_runs_again_only_when_its_input_or_triggers_change():
    """The migrate step re-runs on a new image because the image and migrate's task definition are in its input
    and triggers (aws/migration.py), with the default scope."""
    scope = _source_param(aws.lambda_.Invocation, "lifecycle_scope")
    assert "Defaults to `CREATE_ONLY`" in scope
    assert "`CREATE_ONLY` will invoke the function only on creation or replacement" in scope
    assert "when changed, will trigger a re-invocation" in _source_param(aws.lambda_.Invocation, "triggers")


def test_a_capacity_provider_strategy_change_needs_a_forced_deployment_and_triggers():
    strategy = _source_param(aws.ecs.Service, "capacity_provider_strategies")
    assert "Updating this argument requires `force_new_deployment = true`" in strategy
    assert "you also need to configure the triggers property" in _source_param(aws.ecs.Service, "force_new_deployment")
    assert "will trigger an in-place update (redeployment)" in _source_param(aws.ecs.Service, "triggers")


def test_waiting_for_steady_state_is_off_unless_asked():
    wait = _source_param(aws.ecs.Service, "wait_for_steady_state")
    assert "wait for the service to reach a steady state" in wait and "Default `false`" in wait
