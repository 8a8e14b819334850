"""The offline runner (airflow_celery/aws/offline/) for the tests, plus what only tests need.

The recording mocks moved into the package so `airflow-celery plan` runs the same code; this module
re-exports them so tests keep importing `tests.aws.harness`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_celery.aws import pulumi_cli
from airflow_celery.aws.offline import (  # noqa: F401 - re-exported for the tests
    ACCOUNT_ID,
    AVAILABILITY_ZONES,
    COMPONENT_TYPE,
    ECR_PASSWORD,
    GIVEN_VPC_CIDRS,
    GIVEN_VPC_ID,
    OFFERINGS_INVOKE,
    PROJECT,
    REGION,
    Recorded,
    RecordingMocks,
    build_component,
    config_map,
    run_program,
)
from airflow_celery.aws.offline.fake_aws import security_group as security_group_outputs  # noqa: F401

PROJECT_DIR = Path(__file__).resolve().parents[2]
PLACEHOLDER_REPLACEMENTS: dict[str, dict[str, str]] = {
    "prod": {
        f"{PROJECT}:certificateArn": (
            "arn:aws:acm:us-east-1:210987654321:certificate/9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
        ),
        f"{PROJECT}:domainName": "airflow.data.acme-corp.io",
        f"{PROJECT}:allowedCidrs": ["81.2.69.0/24"],
    }
}
"""What a user puts in place of a stack file's REPLACE placeholders, which resolve_args refuses (test_args)."""


def stack_engine_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The config `pulumi up -s <stack>` gives the program, with the stack's placeholders replaced."""
    return pulumi_cli.engine_config(
        PROJECT_DIR, stack, {**PLACEHOLDER_REPLACEMENTS.get(stack, {}), **(overrides or {})}
    )
