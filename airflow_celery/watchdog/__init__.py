"""The watchdog: running tasks whose worker is gone are handed to the scheduler within a minute, not five.

A worker lost (SIGKILL, OOM, Spot reclaim) leaves its tasks `running` in the database with no one to heartbeat
them. Airflow's only signal is the heartbeat timeout, and one timeout cannot both outlast an api-server outage
(no heartbeat arrives then either) and catch a lost worker fast (cluster/reliability.py). The watchdog adds the
second signal: Celery itself, asked through the broker what every live worker runs.

- `decision`: which running tasks are lost (pure, unit-tested);
- `celery_nodes`: the Celery task ids live workers hold (`inspect active`; Celery only, no Airflow import);
- `tasks`: running task instances and the aging of a lost task's last heartbeat (plain SQLAlchemy);
- `broken_dags`: a second duty, Airflow stops scheduling runs in flight when a commit breaks their DAG's file;
  with a versioned bundle they need only their own version, so each round lets the scheduler finish them;
- `__main__`: the loop, one round every WATCHDOG_INTERVAL seconds.
"""
