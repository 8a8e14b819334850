"""The autoscaler and the workers' scale-in protection: small loops that run inside the image and locally.

- `loop`: count the load, decide with cluster/scaling.py, hand the decision to a sink, every interval.
- `counts`: queued and running task instances, read from the metadata database (SQLAlchemy, no Airflow import).
- `cloudwatch`: the ECS sink, publishing the counts and the desired workers for Application Auto Scaling.
- `protection`: a worker marks its own ECS task protected from scale-in while it holds a task.

The local sink (starting and stopping worker programs) lives with the local runner, in local/autoscaler.py.
"""
