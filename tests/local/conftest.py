import pytest

from airflow_celery.local.options import validate_up_options


@pytest.fixture
def options(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    return validate_up_options(2, 4, tmp_path / "state", dags)
