"""The upgrade benchmark's probe (bench/upgrade.py): its task reads a connection and a variable the older
Airflow wrote (the connection's password decrypted with the same fernet key)."""

import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseHook, Variable


def read_both():
    connection = BaseHook.get_connection("upgrade_conn")
    marker = Variable.get("upgrade_marker")
    assert connection.password == "conn-secret", "the connection's password did not decrypt"
    return f"{marker}:{connection.host}"


with DAG("upgrade_probe", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False):
    PythonOperator(task_id="read_both", python_callable=read_both)
