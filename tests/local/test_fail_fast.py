"""`local up` stops waiting the moment supervisord gives up on a role, and shows that role's log.

A real supervisord (rendered by supervisor_conf.py, as `up` renders it) runs two stand-ins: one that never gets
healthy (its HTTP health check's port stays closed) and one that crashes on every start until supervisord
marks it FATAL (startretries=3). Waiting for the first would take the whole health timeout; `up` must
instead fail for the second, with the tail of its log. Marked `integration`: it starts supervisord.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
from rich.console import Console

from airflow_celery.cluster.roles import API_SERVER, FLOWER
from airflow_celery.local import runner, supervisor
from airflow_celery.local.errors import LocalError
from airflow_celery.local.options import validate_up_options
from airflow_celery.local.programs import Program
from airflow_celery.local.state import StatePaths, create_state_dir
from airflow_celery.local.supervisor_conf import render_supervisord_conf

pytestmark = pytest.mark.integration

HEALTH_TIMEOUT = 240


@pytest.fixture
def cluster(tmp_path):
    from airflow_celery.local.ports import free_ports

    dags = tmp_path / "dags"
    dags.mkdir()
    api_port, flower_port = free_ports(2)
    options = validate_up_options(
        1, 1, tmp_path / "s", dags, ports=[f"api-server.http={api_port}", f"flower.http={flower_port}"]
    )
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    env = runner.base_environment(paths)
    never_healthy = Program("api-server", API_SERVER, (sys.executable, "-c", "import time; time.sleep(600)"), {})
    crash = "sleep 0.3; echo 'flower: cannot import name celery_app (the real cause)'; exit 3"
    crashing = Program("flower", FLOWER, ("sh", "-c", crash), {})
    programs = [never_healthy, crashing]
    paths.supervisord_conf.write_text(render_supervisord_conf(programs, paths))
    supervisor.start_supervisord(paths, env)
    cluster = runner.LocalCluster(paths, options, programs, {}, env, "localhost")
    try:
        yield cluster
    finally:
        runner.down(paths.root, Console(quiet=True))


def test_a_fatal_role_ends_the_wait_at_once_with_its_log(cluster):
    """Before, each check was awaited in start order: the crash surfaced only after api-server's timeout."""
    with pytest.raises(LocalError) as raised:
        runner._start_and_wait(cluster, cluster.programs, Console(quiet=True), "stand-ins", HEALTH_TIMEOUT)
    message = str(raised.value)
    assert message.startswith("flower is FATAL instead of running"), message
    assert "cannot import name celery_app (the real cause)" in message
    assert "not healthy after" not in message


def test_a_role_is_waited_for_as_long_as_the_clusters_health_timeout(cluster):
    """One timeout, from the options `local up` was given (`--health-timeout`), not a second argument."""
    short = dataclasses.replace(cluster, options=dataclasses.replace(cluster.options, health_timeout=10))
    never_healthy = short.programs[0]
    supervisor.start(short.paths, never_healthy.name)
    with pytest.raises(LocalError, match="api-server was not healthy after 10 s"):
        runner.wait_healthy(short, never_healthy, lambda _: None)
