"""How `make test`'s integration run spreads over processes (`pytest -m integration -n 4 --dist loadgroup`): each
group of integration tests that shares a local cluster goes whole to one xdist process
(tests/local/cluster_support.py, CLUSTER_GROUPS), and the clusters start one at a time, longest group first."""

from __future__ import annotations

import pytest

from tests.local import cluster_support
from tests.local.cluster_support import cluster_group_scheduler, group_of


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadgroup":
        return cluster_group_scheduler(config, log)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Before `-m` deselects anything: every integration test must have a cluster group, or under `make test` it
    would start a cluster of its own in whichever process picks it up."""
    ungrouped = [item.nodeid for item in items if item.get_closest_marker("integration") and not group_of(item.nodeid)]
    if ungrouped:
        raise pytest.UsageError(f"integration tests without a group (cluster_support.CLUSTER_GROUPS): {ungrouped}")


def pytest_collection_finish(session):
    """The groups this run has: a process waits for its turn to start a cluster only behind groups that exist."""
    cluster_support.groups_in_run.update(group for item in session.items if (group := group_of(item.nodeid)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the fixtures: the group whose cluster this process is about to start, if it starts one."""
    cluster_support.current_group = group_of(item.nodeid)
