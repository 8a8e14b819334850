"""The component provider plugin: the Pulumi engine runs `python provider/ ENGINE_ADDRESS` (see PulumiPlugin.yaml).

It prints the port it serves on (127.0.0.1) and answers GetSchema and Construct for
airflow-celery:index:AirflowCeleryCluster; airflow_celery/aws/provider.py has the details.
"""

from airflow_celery.aws.provider import main

if __name__ == "__main__":
    main()
