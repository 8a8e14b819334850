import pytest

from airflow_celery.local.options import validate_up_options
from tests.local.cluster_support import group_rank


@pytest.fixture
def options(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    return validate_up_options(2, 4, tmp_path / "state", dags)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The one real local cluster every integration test shares (tests/local/cluster_support.py)."""
    from tests.local.cluster_support import running_cluster

    yield from running_cluster(tmp_path_factory)


def pytest_collection_modifyitems(items):
    """The cluster groups first (cluster_support.CLUSTER_GROUPS), so that `make test` gives each its own process
    first; in each, tests marked `last` (they stop the cluster, or need it untouched by others) after all others."""
    items.sort(key=lambda item: (group_rank(item.nodeid), item.get_closest_marker("last") is not None))
