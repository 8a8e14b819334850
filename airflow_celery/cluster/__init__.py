"""The one plain-Python description of the cluster: roles, edges, secrets and the env contract.

The AWS renderer (airflow_celery.aws), the local runner (airflow_celery.local), the image entrypoint
and the generated docs all read it. It imports only the standard library.
"""

from airflow_celery.cluster.edges import EDGES, INTERNET, LOAD_BALANCER, LOAD_BALANCER_PORTS, Edge, edges_from
from airflow_celery.cluster.env import EnvSettings, RoleEnvironment, role_environment
from airflow_celery.cluster.fargate import FARGATE_SIZES, is_fargate_size
from airflow_celery.cluster.roles import (
    AIRFLOW_SERVICES,
    ENTRYPOINT_ROLES,
    ROLES,
    ROLES_BY_NAME,
    CommandCheck,
    FreshFileCheck,
    HttpCheck,
    Kind,
    Port,
    Role,
    Size,
    role,
)
from airflow_celery.cluster.secrets import (
    BrokerEndpoint,
    DatabaseEndpoint,
    SecretName,
    compose_secrets,
    generate_secrets,
)

__all__ = [
    "AIRFLOW_SERVICES",
    "EDGES",
    "ENTRYPOINT_ROLES",
    "FARGATE_SIZES",
    "INTERNET",
    "LOAD_BALANCER",
    "LOAD_BALANCER_PORTS",
    "ROLES",
    "ROLES_BY_NAME",
    "BrokerEndpoint",
    "CommandCheck",
    "DatabaseEndpoint",
    "Edge",
    "EnvSettings",
    "FreshFileCheck",
    "HttpCheck",
    "Kind",
    "Port",
    "Role",
    "RoleEnvironment",
    "SecretName",
    "Size",
    "compose_secrets",
    "edges_from",
    "generate_secrets",
    "is_fargate_size",
    "role",
    "role_environment",
]
