"""The Pulumi program: one AirflowCeleryCluster built from the stack's config.

`pulumi up -s dev` reads Pulumi.yaml's defaults and Pulumi.dev.yaml; every key is described in Pulumi.yaml.
Nothing is caught here: a bad value stops the program with one ConfigError naming the key, the value and
what is allowed, before any resource is created.
"""

import pulumi

from airflow_celery import AirflowCeleryCluster
from airflow_celery.aws.config import args_from_config, camel_case, component_name

config = pulumi.Config()
cluster = AirflowCeleryCluster(component_name(config, pulumi.get_stack()), args_from_config(config))

# airflowUrl, flowerUrl, ecrRepositoryUrl, clusterName, dbEndpoint, adminPasswordSecretArn
for output_name, value in cluster.outputs.items():
    pulumi.export(camel_case(output_name), value)
