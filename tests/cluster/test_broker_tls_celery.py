"""An ElastiCache (rediss://) broker URL as the component stores it makes Celery verify the server certificate.

It was said that kombu ignores `?ssl_cert_reqs=CERT_REQUIRED` on a rediss:// broker URL. The pinned kombu (5.7.0)
does not: kombu/utils/url.py `parse_url` moves every `ssl_*` query parameter into the connection's `ssl` options
(since celery/kombu#1002, 2019), and kombu/connection.py `Connection._init_params` only falls back to CERT_NONE
("Secure redis scheme specified (rediss) with no ssl options") when none are given. This test builds Airflow's
own Celery app with a worker's environment and that URL and reads the connection it would open (nothing is
contacted). Marked `airflow`: it imports Airflow, in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_celery.cluster import role_environment
from airflow_celery.cluster.secrets import (
    BrokerEndpoint,
    DatabaseEndpoint,
    SecretName,
    compose_secrets,
    generate_secrets,
)
from tests.cluster_settings import settings_with

pytestmark = pytest.mark.airflow

ELASTICACHE = BrokerEndpoint(host="master.x.abcdef.use1.cache.amazonaws.com", tls=True)
PROBE = r"""
import json, logging, ssl, sys

warnings = []
class Remember(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("kombu.connection").addHandler(Remember())

from kombu import Connection
from airflow.providers.celery.executors.celery_executor_utils import app

with app.connection_for_write() as ours:
    ours_ssl = dict(ours.ssl or {})
ours_warnings = list(warnings)
bare_url = app.conf.broker_url.split("?")[0]
with Connection(bare_url) as bare:  # the same broker without the query: the insecure path exists
    bare_ssl = dict(bare.ssl or {})
print(json.dumps({
    "ours_requires_cert": ours_ssl.get("ssl_cert_reqs") == ssl.CERT_REQUIRED,
    "ours_warnings": ours_warnings,
    "bare_requires_cert": bare_ssl.get("ssl_cert_reqs") == ssl.CERT_REQUIRED,
    "bare_warnings": warnings[len(ours_warnings):],
}))
"""


def test_the_stored_broker_url_makes_celery_require_the_certificate(tmp_path):
    urls = compose_secrets(generate_secrets(), DatabaseEndpoint(host="db", sslmode="require"), ELASTICACHE, "admin")
    settings = settings_with(execution_api_url="http://api-server:8080/execution/")
    environment = role_environment("worker", settings).plain | {
        "AIRFLOW__CELERY__BROKER_URL": urls[SecretName.BROKER_URL],
        "AIRFLOW__CELERY__RESULT_BACKEND": urls[SecretName.RESULT_BACKEND_URL],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")} | environment

    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert urls[SecretName.BROKER_URL].startswith("rediss://")
    assert found["ours_requires_cert"]
    assert not any("Secure redis scheme specified" in w for w in found["ours_warnings"])
    assert not found["bare_requires_cert"]
    assert any("Secure redis scheme specified" in w for w in found["bare_warnings"])
