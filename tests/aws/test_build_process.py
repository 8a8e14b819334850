"""The test processes that build the component keep the imported modules out of the garbage collector's walks
(tests/conftest.py, freeze_imports), and skip pytest's last full collection (pytest_unconfigure)."""

import gc
import sys
import weakref

from tests.conftest import pytest_unconfigure


def test_a_process_running_these_tests_has_pulumi_aws_imported_and_frozen():
    assert "pulumi_aws" in sys.modules
    assert gc.get_freeze_count() > 200_000
    assert gc.get_threshold()[0] == 50_000


class _Cycle:
    def __init__(self):
        self.me = self


def test_at_the_sessions_end_what_is_left_is_frozen_out_of_pytests_last_collection():
    gc.disable()  # no collection by threshold before the freeze
    try:
        cycle = _Cycle()
        left = weakref.ref(cycle)
        del cycle
        pytest_unconfigure(None)
        gc.collect()  # what pytest's unraisableexception plugin does next
        assert left() is not None
    finally:
        gc.unfreeze()
        gc.collect()
        gc.freeze()  # as freeze_imports left this process, the tests' objects now frozen too
        gc.enable()
    assert left() is None
