"""The test processes that build the component keep the imported modules out of the garbage collector's walks
(tests/conftest.py, freeze_imports)."""

import gc
import sys


def test_a_process_running_these_tests_has_pulumi_aws_imported_and_frozen():
    assert "pulumi_aws" in sys.modules
    assert gc.get_freeze_count() > 200_000
    assert gc.get_threshold()[0] == 50_000
