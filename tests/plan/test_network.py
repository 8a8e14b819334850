"""Network: the matrix follows the edges; only the load balancer is reachable from the internet."""

from __future__ import annotations

from airflow_celery.cluster.edges import EDGES, INTERNET


def test_only_the_load_balancer_is_open_and_dev_only_to_its_vpc(dev_plan):
    from_outside = {(r.source, r.target, r.port) for r in dev_plan.network.matrix if r.from_internet}

    assert from_outside == {("10.0.0.0/16", "load-balancer", 443), ("10.0.0.0/16", "load-balancer", 80)}
    assert "the load balancer is internal, in 2 private subnets" in dev_plan.network.public
    assert "tasks with a public IP: none (all run in private subnets)" in dev_plan.network.public
    assert "the database is not publicly accessible" in dev_plan.network.public


def test_the_matrix_has_every_edge_between_roles(dev_plan):
    matrix = {(r.source, r.target, r.port) for r in dev_plan.network.matrix}
    for edge in EDGES:
        if edge.source != INTERNET and (edge.source, edge.target) != ("load-balancer", "flower"):  # off dev's LB
            # migrate and the sidecars (autoscaler, watchdog) run in the scheduler task
            source = "scheduler" if edge.source in ("migrate", "autoscaler", "watchdog") else edge.source
            assert (source, edge.target, edge.port_number) in matrix
    assert ("worker", "api-server", 8080) in matrix


def test_prod_allowed_cidrs_are_what_the_internet_rows_show(prod_plan):
    sources = {r.source for r in prod_plan.network.matrix if r.from_internet}
    assert sources == set(prod_plan.config.allowed_cidrs)
