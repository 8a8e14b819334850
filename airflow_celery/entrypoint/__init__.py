"""The entrypoint of every role: `python -m airflow_celery.entrypoint ROLE`.

ECS runs it as the image's ENTRYPOINT (behind the official image's dumb-init), docker-compose runs it, and the
local runner runs this same package. For a role it:

1. waits, with one bounded budget (retry.retry_until), for the services the role has edges to (PostgreSQL,
   Redis), and says which variable and which host failed if they never answer (waits.py);
2. for `migrate`: runs its named steps under a database lock (migrate-database, set-default-pool, create-user,
   provision-result-backend), all in this one interpreter, then exits (migrate.py);
3. otherwise waits for what the role needs (START_WAITS: the schema, or the worker's result-backend role), then
   `exec`s the role's command (start.py).

Before a role starts it imports the cluster description (standard library only) and nothing else; `migrate`
imports Airflow, SQLAlchemy, Celery and psycopg2 inside its steps, and the worker psycopg2 for its one wait.
"""

from airflow_celery.entrypoint.errors import EX_CONFIG, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, EntrypointError
from airflow_celery.entrypoint.start import find_role, main

__all__ = ["EX_CONFIG", "EX_TEMPFAIL", "EX_UNAVAILABLE", "EX_USAGE", "EntrypointError", "find_role", "main"]
