"""What runs in the scheduler's process beside Airflow: the Celery config hook (config.py) that keeps one pooled
result-backend engine (result_sessions.py)."""
