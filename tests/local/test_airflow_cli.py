"""`local airflow ARGS`: the scheduler's environment contract, secrets in the environment only (no cluster)."""

import subprocess

import pytest

from airflow_celery.cluster import SecretName
from airflow_celery.cluster.env import secrets_of
from airflow_celery.cluster.roles import SCHEDULER
from airflow_celery.local import supervisor
from airflow_celery.local.airflow_cli import run_airflow
from airflow_celery.local.errors import LocalError
from airflow_celery.local.state import StatePaths, all_secrets, create_state_dir, save_options


@pytest.fixture
def state(options):
    paths = StatePaths(options.state_dir)
    create_state_dir(paths)
    secrets = all_secrets(paths, options.ports)
    save_options(paths, options, "testhost")
    return paths, secrets


def test_runs_airflow_with_the_schedulers_secrets_in_its_environment_only(state, monkeypatch):
    paths, secrets = state
    ran = {}

    def fake_run(argv, env, check):
        ran.update(argv=argv, env=env)
        return subprocess.CompletedProcess(argv, 3)

    monkeypatch.setattr("airflow_celery.local.airflow_cli.subprocess.run", fake_run)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "the caller's, which must not win")
    assert run_airflow(paths.root, ["connections", "list"]) == 3
    assert ran["argv"][1:] == ["-m", "airflow", "connections", "list"]
    for variable, name in secrets_of(SCHEDULER.name).items():
        assert ran["env"][variable] == secrets[name.value], variable
        assert all(secrets[name.value] not in arg for arg in ran["argv"])
    # Only what the scheduler reads: not the admin's or Flower's passwords, not the api-server's secret key.
    for other in (SecretName.ADMIN_PASSWORD, SecretName.FLOWER_PASSWORD, SecretName.API_SECRET_KEY):
        assert secrets[other.value] not in ran["env"].values()
    assert ran["env"]["AIRFLOW__CORE__DAGS_FOLDER"] == str(paths.root.parent / "dags")
    assert ran["env"]["AIRFLOW_HOME"] == str(paths.airflow_home)
    assert supervisor.STATE_MARKER_VAR not in ran["env"]  # `local down` does not count it as the cluster's


def test_no_command_or_no_cluster_says_what_to_do(tmp_path):
    with pytest.raises(LocalError, match=r"give an Airflow command, e\.g\. `airflow-celery local airflow dags list`"):
        run_airflow(tmp_path, [])
    with pytest.raises(LocalError, match=r"no cluster\.json.*airflow-celery local up"):
        run_airflow(tmp_path, ["dags", "list"])
