"""The Pulumi program: one AirflowCeleryCluster built from the stack's config.

`pulumi up -s dev` reads Pulumi.yaml's defaults and Pulumi.dev.yaml; every key is described in Pulumi.yaml.
Nothing is caught here: a bad value stops the program with one ConfigError naming the config key
(`airflow-celery:workerCount`), the value and what is allowed, before any resource is created.
"""

import pulumi

from airflow_celery import AirflowCeleryCluster
from airflow_celery.aws.config import camel_case, validated_args_from_config

name, args = validated_args_from_config(pulumi.Config(), pulumi.get_stack())
cluster = AirflowCeleryCluster(name, args)

# airflowUrl, flowerUrl, ecrRepositoryUrl, clusterName, dbEndpoint, adminPasswordSecretArn, dagBucket
for output_name, value in cluster.outputs.items():
    pulumi.export(camel_case(output_name), value)
