"""Run the component or a whole Pulumi program offline against recording mocks.

`airflow-celery plan` and the tests both use this: the plan lists what the real component registers.

- recording.py: `RecordingMocks` records every registered resource (type token, name, inputs, parent, options,
  outputs) and is what tests and the plan query;
- fake_aws.py: the outputs and provider-function answers a (fake, deterministic) AWS account gives;
- runner.py: `build_component` (the component alone) and `run_program` (a stack's `__main__.py` with config);
- pulumi_internals.py: the private parts of the Pulumi SDK the recording needs, in one place.
"""

from airflow_celery.aws.offline.fake_aws import (
    ACCOUNT_ID,
    AVAILABILITY_ZONES,
    ECR_PASSWORD,
    GIVEN_VPC_CIDRS,
    GIVEN_VPC_ID,
    OFFERINGS_INVOKE,
    REGION,
)
from airflow_celery.aws.offline.recording import COMPONENT_TYPE, Recorded, RecordingMocks
from airflow_celery.aws.offline.runner import PROJECT, build_component, config_map, run_program

__all__ = [
    "ACCOUNT_ID",
    "AVAILABILITY_ZONES",
    "COMPONENT_TYPE",
    "ECR_PASSWORD",
    "GIVEN_VPC_CIDRS",
    "GIVEN_VPC_ID",
    "OFFERINGS_INVOKE",
    "PROJECT",
    "REGION",
    "Recorded",
    "RecordingMocks",
    "build_component",
    "config_map",
    "run_program",
]
