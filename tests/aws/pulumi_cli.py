"""The Pulumi CLI's config rules moved to airflow_celery/aws/pulumi_cli.py (the plan command reads stack
files with them); re-exported here so tests keep importing `tests.aws.pulumi_cli`."""

from airflow_celery.aws.pulumi_cli import *  # noqa: F403
