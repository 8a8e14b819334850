"""What runs inside a Celery worker's main process, hooked in through `[celery] celery_config_options`:

- `liveness`: a thread touching the file the worker's health check reads (roles.py, WORKER);
- `config`: the module that option names; importing it connects liveness and the ECS scale-in protection
  (autoscaler/protection.py) to Celery's signals.
"""
