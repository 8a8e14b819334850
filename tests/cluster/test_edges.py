from airflow_celery.cluster import EDGES, INTERNET, LOAD_BALANCER, ROLES_BY_NAME
from airflow_celery.cluster.edges import BROKER_STORAGE, edges_to, port_of, talks_to


def test_every_edge_joins_known_nodes_on_a_real_port():
    nodes = {*ROLES_BY_NAME, INTERNET, LOAD_BALANCER, BROKER_STORAGE}
    for edge in EDGES:
        assert edge.source in nodes and edge.target in nodes, edge
        assert port_of(edge.target, edge.port).number == edge.port_number
        assert edge.why


def test_only_the_load_balancer_is_reachable_from_outside():
    assert {e.target for e in EDGES if e.source == INTERNET} == {LOAD_BALANCER}
    assert {e.target for e in EDGES if e.source == LOAD_BALANCER} == {"api-server", "flower"}


def test_airflow_3_workers_call_the_execution_api_and_the_broker():
    assert talks_to("worker", "api-server")
    assert talks_to("worker", "redis")
    # The scheduler signs task tokens itself; it never calls the api-server.
    assert not talks_to("scheduler", "api-server")
    assert talks_to("scheduler", "redis")


def test_dag_processor_and_triggerer_use_only_the_database():
    for source in ("dag-processor", "triggerer"):
        assert {e.target for e in EDGES if e.source == source} == {"postgres"}


def test_the_api_server_fetches_live_logs_from_workers_and_triggerer():
    assert {(e.source, e.port_number) for e in edges_to("worker")} == {("api-server", 8793)}
    assert {(e.source, e.port_number) for e in edges_to("triggerer")} == {("api-server", 8794)}


def test_nobody_connects_to_the_scheduler_or_dag_processor():
    assert edges_to("scheduler") == ()
    assert edges_to("dag-processor") == ()


def test_edges_are_unique():
    keys = [(e.source, e.target, e.port) for e in EDGES]
    assert len(keys) == len(set(keys))
