from airflow_celery.cluster import ROLES, HttpCheck, Kind, is_fargate_size, role
from airflow_celery.cluster.roles import AIRFLOW_SERVICES, ENTRYPOINT_ROLES


def test_every_health_check_uses_a_port_the_role_has():
    for r in ROLES:
        if isinstance(r.health, HttpCheck):
            assert r.port(r.health.port).number > 0, r.name


def test_every_long_running_role_has_a_health_check():
    assert all(r.health is not None for r in ROLES if r.kind is not Kind.JOB)


def test_default_sizes_are_fargate_sizes():
    for r in ROLES:
        if r.kind not in (Kind.DATABASE, Kind.SIDECAR):  # a sidecar's size is a reservation in its host's task
            assert is_fargate_size(r.size.cpu, r.size.memory), (r.name, r.size)


def test_sizes_follow_seed_004_where_it_gives_them():
    # Seed 004: scheduler 2 GB / 0.5 vCPU, flower 512 MB / 0.25, worker 3 GB / 1, redis 2 GB / 1.
    assert (role("scheduler").size.cpu, role("scheduler").size.memory) == (512, 2048)
    assert (role("flower").size.cpu, role("flower").size.memory) == (256, 512)
    assert (role("worker").size.cpu, role("worker").size.memory) == (1024, 3072)
    assert (role("redis").size.cpu, role("redis").size.memory) == (1024, 2048)
    # The webserver's 1 GB / 0.5 becomes 2 GB for the Airflow 3 api-server, which also serves the execution API.
    assert (role("api-server").size.cpu, role("api-server").size.memory) == (512, 2048)


def test_airflow_3_roles_and_commands():
    commands = {r.name: r.command for r in AIRFLOW_SERVICES}
    assert commands == {
        "api-server": ("airflow", "api-server", "--proxy-headers"),
        "scheduler": ("airflow", "scheduler"),
        "dag-processor": ("airflow", "dag-processor"),
        "triggerer": ("airflow", "triggerer"),
        "worker": ("airflow", "celery", "worker"),
        "flower": ("python", "-m", "airflow_celery.flower"),  # `airflow celery flower` without Airflow
    }
    assert role("migrate").command == ("airflow", "db", "migrate")
    assert {r.name for r in ENTRYPOINT_ROLES} == {*commands, "migrate", "autoscaler", "watchdog"}


def test_only_workers_scale_and_they_get_the_fargate_maximum_stop_timeout():
    assert [r.name for r in ROLES if r.scalable] == ["worker"]
    assert role("worker").stop_timeout == 120


def test_official_health_checks():
    assert role("api-server").health.path == "/api/v2/version"
    assert role("scheduler").health.path == "/health"
    assert role("scheduler").port("health").number == 8974
    assert "DagProcessorJob --local" in role("dag-processor").health.shell
    assert "TriggererJob --local" in role("triggerer").health.shell
    # Not the official compose file's `celery inspect ping`: a file the worker's main process touches
    # (worker/liveness.py).
    assert "inspect ping" not in role("worker").health.shell
    assert "AIRFLOW_CELERY_WORKER_ALIVE_FILE" in role("worker").health.shell


def test_unknown_role_names_the_roles_there_are():
    try:
        role("webserver")
    except KeyError as error:
        assert "webserver" in str(error) and "api-server" in str(error)
    else:
        raise AssertionError("expected KeyError")


def test_api_server_check_also_covers_the_execution_api_workers_need():
    check = role("api-server").health
    assert check.paths == ("/api/v2/version", "/execution/health")
    assert check.shell(8080) == (
        "curl --fail --silent --show-error --output /dev/null http://localhost:8080/api/v2/version && "
        "curl --fail --silent --show-error --output /dev/null http://localhost:8080/execution/health"
    )


def test_redis_image_comes_from_ecr_public_pinned_by_digest():
    """No anonymous Docker Hub pulls (rate-limited per NAT address); a digest, so every task runs one release."""
    import re

    from airflow_celery.cluster.roles import REDIS_IMAGE

    match = re.fullmatch(r"public\.ecr\.aws/docker/library/redis:(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}", REDIS_IMAGE)
    assert match is not None, REDIS_IMAGE
    assert role("redis").image == REDIS_IMAGE
