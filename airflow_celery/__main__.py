"""`python -m airflow_celery` is the `airflow-celery` command."""

from airflow_celery.cli import main

main()
