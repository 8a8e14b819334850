"""DAGs for the `local trigger|logs|airflow` tests (tests/local/test_local_cli.py), one short task each.

- `cli_params_probe`: a templated `{{ params.x }}` and a task that reads `params` from the trigger's conf.
- `cli_connection_probe`: a task that reads the connection `cli_probe_conn`, which the test adds with
  `airflow-celery local airflow connections add` (the api-server decrypts it with the cluster's fernet key).
"""

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, BaseHook, Param, task

PARAMS_MARK = "cli-params-probe x="
CONNECTION_MARK = "cli-connection-probe host="

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
