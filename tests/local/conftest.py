import time
from pathlib import Path

import pytest

from airflow_celery.local.options import validate_up_options
from tests.local.cluster_support import group_rank
from tests.local.failure_logs import cluster_log_excerpts, keep_logs


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


TEST_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    item.stash[TEST_STARTED] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test on a local cluster reports what the cluster's programs and tasks logged while it ran
    (failure_logs.py): its fixture purges the state directory afterwards."""
    report = yield
    if report.when != "call" or not report.failed or TEST_STARTED not in item.stash:
        return report
    for name, value in getattr(item, "funcargs", {}).items():
        state_dir = getattr(value, "state_dir", None)
        if isinstance(state_dir, Path) and state_dir.is_dir():
            excerpts = cluster_log_excerpts(state_dir, item.stash[TEST_STARTED] - 1)
            excerpts += f"\n(all of them: {keep_logs(state_dir, item.name)})"
            report.sections.append((f"cluster logs ({name})", excerpts))
    return report
