"""How the tests spread over processes.

- The integration run (`pytest -m integration -n 4 --dist loadgroup`): each group of integration tests that shares
  a local cluster goes whole to one xdist process (tests/local/cluster_support.py, CLUSTER_GROUPS), and the
  clusters start one at a time, longest group first.
- The other runs (`--dist worksteal`): xdist gives each process one contiguous block of the collection and lets an
  idle process take from another's; the modules with a test marked `slow` (seconds of waiting on real processes)
  are spread to the heads of those blocks, each whole, so they start at once instead of being the run's tail.
"""

from __future__ import annotations

import gc
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
    modules that have a `slow` test at the heads of the blocks, each module whole: its module-scoped fixture (a wheel
    and a venv, a migrated Airflow database, the parsed DAGs) is then set up in one process, not in each (dealt one
    test at a time, the auth-manager modules set theirs up 4 times, and tests/dags 4 times, 2026-12-07). Modules go
    round-robin, those with the most tests first; every other test keeps its order. An idle process steals the last
    half of the longest pending queue (xdist 3.8 worksteal.py), so a module at a head is split only when its process
    has little else left to run."""

    def module(item) -> str:
        return item.nodeid.split("::")[0]

    slow_modules = {module(item) for item in items if item.get_closest_marker("slow")}
    modules: dict[str, list] = {}
    for item in items:
        if module(item) in slow_modules:
            modules.setdefault(module(item), []).append(item)
    rest = [item for item in items if module(item) not in slow_modules]
    heads: list[list] = [[] for _ in range(blocks)]
    for index, tests in enumerate(sorted(modules.values(), key=len, reverse=True)):
        heads[index % blocks] += tests
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


BUILDING_TESTS = ("tests/aws/", "tests/plan/", "tests/test_cli.py")
"""Tests that build the component under Pulumi's mocks (airflow_celery/aws/offline/)."""


def pytest_collection_finish(session):
    """The groups this run has: a process waits for its turn to start a cluster only behind groups that exist.
    And in a process that will build the component, the imported modules are frozen out of the garbage collector
    (freeze_imports)."""
    cluster_support.groups_in_run.update(group for item in session.items if (group := group_of(item.nodeid)))
    if any(item.nodeid.startswith(BUILDING_TESTS) for item in session.items):
        freeze_imports()


def freeze_imports() -> None:
    """A component build allocates enough to trigger about 1.4 full collections, and each walked the 220,000 and more
    objects that importing pulumi_aws leaves (125 ms a collection, 45 % of a build's CPU; 2026-12-07, gc.callbacks). The
    import is done here once (the first build would do it), then `gc.freeze()` moves everything to the permanent
    generation, as Airflow's own pre-fork preload does: collections then walk only what the tests allocate. The
    first generation's threshold goes from 700 allocations to 50,000 (about 40 MB more per process): a build makes
    hundreds of thousands of short-lived objects. `make unit` (2026-12-07, with an integration run beside it): 97 CPU
    s before, 69 with the freeze and without the SDK's stack traces (offline/pulumi_internals.skip_stack_traces), 63
    with the threshold too."""
    import airflow_celery.aws.component  # noqa: F401 - pulumi_aws and the SDK, imported before the freeze

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    """Skip pytest's last full garbage collection of the session (pytest 9.2, unraisableexception.pytest_unconfigure:
    one `gc.collect()`, to report a `__del__` that raised). In a process that built the component it walked
    everything the session's recorded builds keep alive: 0.2-0.7 CPU s per process at the tail of `make unit`, none
    after this freeze (2026-12-07, Intel Xeon). What is given up: a cycle made by the last tests is not collected
    before exit, so a `__del__` of its that raises goes unreported. Every earlier cycle is collected during the run
    (freeze_imports' thresholds), and pytest reports what its `__del__` raised at the next test's setup."""
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the fixtures: the group whose cluster this process is about to start, if it starts one."""
    cluster_support.current_group = group_of(item.nodeid)
