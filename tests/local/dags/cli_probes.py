"""DAGs for the `local trigger|logs|airflow` tests (tests/local/test_local_cli.py), one short task each.

- `cli_params_probe`: a templated `{{ params.x }}` and a task that reads `params` from the trigger's conf.
- `cli_connection_probe`: a task that reads the connection `cli_probe_conn`, which the test adds with
  `airflow-celery local airflow connections add` (the api-server decrypts it with the cluster's fernet key).
- `cli_fail_probe`: a task that prints a mark and fails, for `trigger --wait`'s log tail.
- `cli_asset_producer` -> `cli_asset_consumer`: an outlet event with extra triggers the asset-scheduled consumer,
  which reads it back from its inlet events and from its triggering events.
"""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset, BaseHook, Metadata, Param, task

PARAMS_MARK = "cli-params-probe x="
CONNECTION_MARK = "cli-connection-probe host="
FAIL_MARK = "cli-fail-probe: about to fail"
ASSET_MARK = "cli-asset-probe extra="
PROBE_ASSET = Asset(name="cli_probe_asset", uri="file:///tmp/cli_probe_asset")

with DAG(
    "cli_params_probe",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"x": Param("default", type="string")},
):
    BashOperator(task_id="echo_x", bash_command=f"echo '{PARAMS_MARK}{{{{ params.x }}}}'", retries=0)


with DAG("cli_connection_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(retries=0)
    def read_connection():
        connection = BaseHook.get_connection("cli_probe_conn")
        print(f"{CONNECTION_MARK}{connection.host} login={connection.login}", flush=True)

    read_connection()


with DAG("cli_fail_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="fail", bash_command=f"echo '{FAIL_MARK}'; exit 3", retries=0)


with DAG("cli_asset_producer", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):

    @task(outlets=[PROBE_ASSET], retries=0)
    def produce(*, run_id=None):
        yield Metadata(PROBE_ASSET, {"rows": 42, "producer_run": run_id})

    produce()


with DAG("cli_asset_consumer", schedule=[PROBE_ASSET], start_date=datetime(2024, 1, 1), catchup=False):

    @task(inlets=[PROBE_ASSET], retries=0)
    def consume(*, inlet_events=None, triggering_asset_events=None):
        latest = inlet_events[PROBE_ASSET][-1]
        triggering = [event.extra for event in triggering_asset_events[PROBE_ASSET]]
        print(f"{ASSET_MARK}{latest.extra['rows']} triggered_by={triggering}", flush=True)

    consume()
