"""What runs in the scheduler's process beside Airflow: the Celery config hook (config.py) that keeps one pooled
result-backend engine (result_sessions.py), makes the loop count the executor events it processed as work
(executor_events.py), and serves the health check from a thread instead of a forked copy (health_server.py)."""
