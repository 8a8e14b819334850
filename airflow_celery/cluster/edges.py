"""Who talks to whom in an Airflow 3 CeleryExecutor cluster.

Security-group ingress rules are generated from these edges and nothing else; the entrypoint waits
for exactly the services a role has edges to. The table follows Airflow 3, not the Airflow 2 diagram
in the Celery provider docs: workers call the api-server's Task Execution API, the scheduler signs
task tokens itself, and the dag-processor and triggerer use an in-process execution API.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_celery.cluster.roles import ROLES_BY_NAME, Port

# Nodes that are not roles: the outside world, the load balancer in front of the UIs, and the file system that
# holds a Fargate Redis's append-only file (EFS mount targets; not there when ElastiCache is the broker).
INTERNET = "internet"
LOAD_BALANCER = "load-balancer"
BROKER_STORAGE = "redis-storage"

LOAD_BALANCER_PORTS: tuple[Port, ...] = (
    Port("https", 443, "UI and Flower over TLS"),
    Port("http", 80, "redirects to HTTPS, or serves plain HTTP when no certificate is given"),
)
BROKER_STORAGE_PORTS: tuple[Port, ...] = (Port("nfs", 2049, "EFS mount targets (NFS over TLS)"),)
NODE_PORTS: dict[str, tuple[Port, ...]] = {LOAD_BALANCER: LOAD_BALANCER_PORTS, BROKER_STORAGE: BROKER_STORAGE_PORTS}


@dataclass(frozen=True)
class Edge:
    """`source` opens TCP connections to `target` on the target's port `port`."""

    source: str
    target: str
    port: str
    why: str

    @property
    def port_number(self) -> int:
        return port_of(self.target, self.port).number


def port_of(node: str, port_name: str) -> Port:
    """The port called `port_name` on a role, the load balancer or the broker's storage."""
    if node in NODE_PORTS:
        for port in NODE_PORTS[node]:
            if port.name == port_name:
                return port
        raise KeyError(f"{node} has no port named {port_name!r}")
    return ROLES_BY_NAME[node].port(port_name)


EDGES: tuple[Edge, ...] = (
    Edge("internet", "load-balancer", "https", "people reach the UI and Flower"),
    Edge("internet", "load-balancer", "http", "redirect to HTTPS (or plain HTTP without a certificate)"),
    Edge("load-balancer", "api-server", "http", "UI, REST API and target health checks"),
    Edge("load-balancer", "flower", "http", "Flower UI and target health checks"),
    Edge("worker", "api-server", "http", "Task Execution API: task state, heartbeats, XCom, variables"),
    Edge("worker", "redis", "redis", "takes tasks from the Celery broker"),
    Edge("worker", "postgres", "postgres", "Celery result backend (db+postgresql)"),
    Edge("scheduler", "postgres", "postgres", "metadata database"),
    Edge("scheduler", "redis", "redis", "sends tasks to the Celery broker"),
    Edge("autoscaler", "postgres", "postgres", "counts queued and running task instances"),
    Edge("watchdog", "postgres", "postgres", "reads running tasks; ages the heartbeat of a lost worker's tasks"),
    Edge("watchdog", "redis", "redis", "asks the Celery workers what they run (inspect active)"),
    Edge("migrate", "postgres", "postgres", "schema migration and the admin user"),
    Edge("dag-processor", "postgres", "postgres", "writes parsed DAGs; in-process execution API"),
    Edge("triggerer", "postgres", "postgres", "trigger state; in-process execution API"),
    Edge("api-server", "postgres", "postgres", "metadata database"),
    Edge("api-server", "worker", "logs", "live logs of running tasks"),
    Edge("api-server", "triggerer", "logs", "live logs of deferred tasks"),
    Edge("flower", "redis", "redis", "reads the broker and worker events"),
    Edge("redis", "redis-storage", "nfs", "the append-only file on EFS, so the queue outlives the task"),
)


def edges_from(source: str) -> tuple[Edge, ...]:
    return tuple(edge for edge in EDGES if edge.source == source)


def edges_to(target: str) -> tuple[Edge, ...]:
    return tuple(edge for edge in EDGES if edge.target == target)


def talks_to(source: str, target: str) -> bool:
    return any(edge.target == target for edge in edges_from(source))
