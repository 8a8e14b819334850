import configparser
import shlex
import sys

import pytest

from airflow_celery.cluster import SecretName
from airflow_celery.local.options import cluster_settings
from airflow_celery.local.programs import build_programs
from airflow_celery.local.secret_exec import parse
from airflow_celery.local.state import StatePaths
from airflow_celery.local.supervisor_conf import render_supervisord_conf

SECRET_VALUES = {name.value: f"value-of-{name.value}" for name in SecretName}
AIRFLOW_PROGRAMS = {"api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2", "flower"}
AIRFLOW_PROGRAMS |= {"watchdog"}  # a sidecar, run through the entrypoint like the others


@pytest.fixture
def paths(options):
    return StatePaths(options.state_dir)


@pytest.fixture
def programs(options, paths):
    settings = cluster_settings(options, paths.airflow_home, "testhost")
    return build_programs(settings, options.workers, paths, "/venv/bin:/usr/bin", paths.root / "pgbin", as_root=True)


@pytest.fixture
def conf(programs, paths):
    parser = configparser.RawConfigParser()
    parser.read_string(render_supervisord_conf(programs, paths))
    return parser


def _command(conf, name):
    return shlex.split(conf[f"program:{name}"]["command"].replace("%%", "%"))


def test_one_program_per_role_and_worker(programs):
    names = [p.name for p in programs]
    assert names == ["postgres", "postgres-tls", "redis", "migrate", *sorted(AIRFLOW_PROGRAMS, key=names.index),
                     "metrics"]  # fmt: skip
    assert set(names) == {"postgres", "postgres-tls", "redis", "migrate", "metrics"} | AIRFLOW_PROGRAMS


def test_the_emitting_roles_send_statsd_to_the_receiver(conf, programs):
    """The scheduler, dag-processor, triggerer and workers send Airflow's metrics to the receiver's port on
    127.0.0.1, with the allow-list; the api-server and Flower send none. The allow-list passes supervisord's
    environment syntax unchanged (no quote, no backslash: cluster/metrics.py)."""
    from airflow_celery.cluster.metrics import allow_list

    by_name = {p.name: p for p in programs}
    receiver = _command(conf, "metrics")
    assert receiver[:3] == [sys.executable, "-m", "airflow_celery.local.metrics_receiver"]
    assert receiver[3] == "127.0.0.1:8125"
    for name in ("scheduler", "dag-processor", "triggerer", "worker-1", "worker-2"):
        env = by_name[name].env
        assert env["AIRFLOW__METRICS__STATSD_ON"] == "True"
        assert (env["AIRFLOW__METRICS__STATSD_HOST"], env["AIRFLOW__METRICS__STATSD_PORT"]) == ("127.0.0.1", "8125")
        assert env["AIRFLOW__METRICS__METRICS_ALLOW_LIST"] == allow_list()
        assert f'AIRFLOW__METRICS__METRICS_ALLOW_LIST="{allow_list()}"' in conf[f"program:{name}"]["environment"]
    for name in ("api-server", "flower", "watchdog"):
        assert "AIRFLOW__METRICS__STATSD_ON" not in by_name[name].env


@pytest.mark.parametrize("name", sorted(AIRFLOW_PROGRAMS | {"migrate"}))
def test_every_airflow_program_runs_the_entrypoint(conf, name):
    command = _command(conf, name)
    tail = command[command.index("--") + 1 :]
    role = name.rsplit("-", 1)[0] if name.startswith("worker-") else name
    assert tail == [sys.executable, "-m", "airflow_celery.entrypoint", role]


def test_stop_settings(conf, programs):
    for program in programs:
        section = conf[f"program:{program.name}"]
        assert section["killasgroup"] == "true"
        assert section["autostart"] == "false"
        assert section["redirect_stderr"] == "true"
        if program.name != "postgres":
            # A worker's SIGTERM goes to its main process only: Celery's warm shutdown lets tasks finish.
            assert section["stopasgroup"] == ("false" if program.name.startswith("worker-") else "true")
            assert section["stopsignal"] == "TERM"
    assert conf["program:worker-1"]["stopwaitsecs"] == "120"
    assert conf["program:scheduler"]["stopwaitsecs"] == "30"
    assert conf["program:postgres"]["stopsignal"] == "INT"  # fast shutdown; TERM waits for clients


def test_one_log_file_per_program(conf, programs, paths):
    logs = [conf[f"program:{p.name}"]["stdout_logfile"] for p in programs]
    assert len(set(logs)) == len(programs)
    assert all(log.startswith(str(paths.logs)) for log in logs)


def test_socket_and_postgres_user(conf, paths):
    assert conf["unix_http_server"]["file"] == str(paths.supervisor_socket)
    assert conf["program:postgres"]["user"] == "embedded_postgres"
    postgres = _command(conf, "postgres")
    assert postgres[3:5] == ["-c", "listen_addresses="]  # no TCP: postgres-tls owns the port
    assert postgres[5:7] == ["-p", "5432"]


def test_the_database_port_belongs_to_the_tls_relay(conf, paths):
    settings = dict(arg.split("=", 1) for arg in _command(conf, "postgres")[1:] if "=" in arg)
    assert settings["hba_file"] == str(paths.pg_hba_file)
    assert "user" not in conf["program:postgres-tls"]  # it reads the key as the invoking user
    relay = _command(conf, "postgres-tls")
    assert relay == [
        sys.executable, "-m", "airflow_celery.local.pg_tls", "127.0.0.1:5432",
        str(paths.pg_socket_dir / ".s.PGSQL.5432"),
        str(paths.pg_conf_dir / "server.crt"), str(paths.pg_conf_dir / "server.key"),
    ]  # fmt: skip


def test_no_secret_value_in_the_config(programs, paths):
    text = render_supervisord_conf(programs, paths)
    for program in programs:
        resolved = program.environment(SECRET_VALUES, {})
        for variable in program.secret_vars:
            assert resolved[variable] in SECRET_VALUES.values()
    assert not any(value in text for value in SECRET_VALUES.values())


def test_airflow_programs_share_secrets_and_workers_get_distinct_node_names(programs):
    envs = {p.name: p.environment(SECRET_VALUES, {}) for p in programs if p.name in AIRFLOW_PROGRAMS}
    for variable in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert len({env[variable] for env in envs.values() if variable in env}) == 1, variable
    assert envs["worker-1"]["AIRFLOW_CELERY_NODE_NAME"] == "worker-1@testhost"
    assert envs["worker-2"]["AIRFLOW_CELERY_NODE_NAME"] == "worker-2@testhost"
    assert envs["worker-1"]["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "4"


def test_local_endpoints(programs, options, paths):
    env = next(p for p in programs if p.name == "worker-1").env
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert env["AIRFLOW_CELERY_SERVE_LOGS"] == "False"
    assert env["AIRFLOW_CELERY_WAIT_FOR_MIGRATIONS"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(options.dags_dir)
    assert env["AIRFLOW_HOME"] == str(paths.airflow_home)
    api = next(p for p in programs if p.name == "api-server").env
    assert api["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert api["AIRFLOW__API__WORKERS"] == "1"
    assert env["PATH"].startswith("/venv/bin")


def test_secret_exec_argument_parsing():
    secrets_file, variables, command = parse(["/s.json", "A=fernet-key", "B=jwt-secret", "--", "python", "-V"])
    assert (secrets_file, variables, command) == ("/s.json", {"A": "fernet-key", "B": "jwt-secret"}, ["python", "-V"])
    with pytest.raises(SystemExit):
        parse(["/s.json", "A=x"])


def test_several_schedulers_each_get_a_program_and_their_own_health_port(tmp_path):
    from airflow_celery.local.options import validate_up_options

    options = validate_up_options(1, 2, tmp_path / "state", tmp_path, schedulers=2)
    paths = StatePaths(options.state_dir)
    settings = cluster_settings(options, paths.airflow_home, "testhost")
    programs = build_programs(settings, 1, paths, "/usr/bin", paths.root / "pgbin", False, options.schedulers)
    schedulers = {p.name: p for p in programs if p.role.name == "scheduler"}
    assert sorted(schedulers) == ["scheduler-1", "scheduler-2"]
    port_var = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"
    assert schedulers["scheduler-1"].env[port_var] == str(options.ports["scheduler.health"])
    assert schedulers["scheduler-2"].env[port_var] == str(options.ports["scheduler.health"] + 1)


def test_postgres_is_started_with_room_for_every_slot(tmp_path):
    from airflow_celery.cluster.limits import connection_budget
    from airflow_celery.local.options import local_capacity, validate_up_options
    from airflow_celery.local.runner import _programs

    options = validate_up_options(8, 64, tmp_path / "state", tmp_path)
    postgres = next(p for p in _programs(StatePaths(options.state_dir), options, "testhost") if p.name == "postgres")
    setting = next(arg for arg in postgres.argv if arg.startswith("max_connections="))
    assert int(setting.split("=")[1]) > connection_budget(local_capacity(options)).steady


def test_postgres_does_its_own_io_like_rds_postgresql_16_and_the_wheels_postgres_has_the_setting(tmp_path):
    import subprocess

    from airflow_celery.local.binaries import postgres_bin_dir
    from airflow_celery.local.options import validate_up_options
    from airflow_celery.local.programs import POSTGRES_IO_METHOD
    from airflow_celery.local.runner import _programs

    options = validate_up_options(1, 4, tmp_path / "state", tmp_path)
    postgres = next(p for p in _programs(StatePaths(options.state_dir), options, "testhost") if p.name == "postgres")
    assert "io_method=sync" in postgres.argv and POSTGRES_IO_METHOD == "sync"
    described = subprocess.run(
        [str(postgres_bin_dir() / "postgres"), "--describe-config"], capture_output=True, text=True, check=True
    ).stdout
    (io_method,) = [line.split("\t") for line in described.splitlines() if line.startswith("io_method\t")]
    assert io_method[1:5] == ["postmaster", "Resource Usage / I/O", "ENUM", "worker"]  # set at start; default worker


def test_down_terminates_each_worker_process_group_not_only_its_main_process(monkeypatch):
    """A worker's stop signal reaches its main process only (a warm shutdown, for scale-in); `down` stops the
    cluster now, so it signals each worker's whole group first, as supervisord did with stopasgroup=true."""
    import os
    import signal

    from airflow_celery.local import runner

    sent = []
    monkeypatch.setattr(runner, "_signal_group", lambda group, sig: sent.append((group, sig)))
    infos = {
        "worker-1": {"group": "worker-1", "pid": os.getpid()},
        "worker-2": {"group": "worker-2", "pid": 0},  # stopped
        "scheduler": {"group": "scheduler", "pid": os.getpid()},
    }
    runner._terminate_worker_groups(infos)
    assert sent == [(os.getpgid(0), signal.SIGTERM)]


def test_a_json_bundle_list_reaches_the_program_through_supervisords_own_parser(tmp_path):
    """supervisord's `environment` parser (supervisor/datatypes.py) reads the JSON list back unchanged."""
    import json as _json

    from supervisor.datatypes import dict_of_key_value_pairs

    from airflow_celery.cluster.dag_source import dag_source
    from airflow_celery.local.supervisor_conf import _environment

    env = dag_source("git", "/srv/dags,repo.git", "main", "dags", 5).environment(str(tmp_path))
    parsed = dict_of_key_value_pairs(_environment({**env, "PLAIN": "a b"}))
    assert parsed == {**env, "PLAIN": "a b"}
    assert _json.loads(parsed["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])[0]["kwargs"]["subdir"] == "dags"


def test_a_value_supervisord_cannot_carry_is_refused_by_name():
    import pytest as _pytest

    from airflow_celery.local.errors import LocalError
    from airflow_celery.local.supervisor_conf import _environment

    for value in ('it\'s "quoted"', "line\nbreak", '"edge'):
        with _pytest.raises(LocalError, match="SOME_KEY"):
            _environment({"SOME_KEY": value})
