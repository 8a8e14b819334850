"""How the tests spread over processes.

- The integration run (`pytest -m integration -n 4 --dist loadgroup`): each group of integration tests that shares
  a local cluster goes whole to one xdist process (tests/local/cluster_support.py, CLUSTER_GROUPS), and the
  clusters start one at a time, longest group first.
- The other runs (`--dist worksteal`): xdist gives each process one contiguous block of the collection and lets an
  idle process take from another's; the tests marked `slow` (seconds of waiting on real processes) are spread to
  the heads of those blocks, so they start at once, one per process, instead of being the run's tail.
"""

from __future__ import annotations

import os

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


class SlowTestsFirst:
    """Under xdist, the `slow` tests at the heads of the blocks `--dist worksteal` hands out (see the module
    docstring). Every process computes the same order, as xdist requires. A plugin of its own, since a module has
    one function per hook name and this one must run last, on what `-m` kept."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        # In an xdist process `--dist` reads "no" (xdist 3.8 remote.py); the count is in the environment. Under
        # another --dist the order is still valid, only less useful; without `slow` tests it is unchanged.
        processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if processes > 1:
            items[:] = slow_first_in_each_block(items, processes)


def slow_first_in_each_block(items: list, blocks: int) -> list:
    """`items` cut into `blocks` contiguous blocks of (nearly) equal length, as worksteal cuts them, with the
    `slow` tests dealt round-robin to the heads of the blocks; every other test keeps its order."""
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    heads: list[list] = [slow[block::blocks] for block in range(blocks)]
    ordered: list = []
    for block in range(blocks):
        # worksteal's first sends: each idle process gets what is left // the processes still to serve
        # (xdist 3.8 scheduler/worksteal.py, check_schedule)
        size = (len(items) - len(ordered)) // (blocks - block)
        taken = max(size - len(heads[block]), 0)
        ordered += heads[block] + rest[:taken]
        rest = rest[taken:]
    return ordered + rest


def pytest_configure(config):
    config.pluginmanager.register(SlowTestsFirst(), "slow-tests-first")


def pytest_collection_finish(session):
    """The groups this run has: a process waits for its turn to start a cluster only behind groups that exist."""
    cluster_support.groups_in_run.update(group for item in session.items if (group := group_of(item.nodeid)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the fixtures: the group whose cluster this process is about to start, if it starts one."""
    cluster_support.current_group = group_of(item.nodeid)
