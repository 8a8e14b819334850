"""`python -m airflow_celery.entrypoint ROLE [ARGS...]`: the image's ENTRYPOINT, compose's and the local runner's."""

import sys

from airflow_celery.entrypoint.start import main

sys.exit(main())
