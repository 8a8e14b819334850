"""Which cluster each integration test runs on under `make test` (cluster_support.CLUSTER_GROUPS); tests/conftest.py
refuses, at collection, an integration test without a group."""

from __future__ import annotations

from tests.local.cluster_support import group_of, group_rank


def test_each_cluster_group_has_its_tests():
    assert group_of("tests/local/test_cluster.py::test_api_server_down_90_s_fails_no_task") == "faults"
    assert group_of("tests/local/test_cluster.py::test_demo_runs_five_tasks_in_parallel_on_both_workers") == "cluster"
    assert group_of("tests/local/test_dag_bundles_s3.py::test_a_broken_folder_is_refused") == "s3"
    assert group_of("tests/local/test_dag_bundles.py::test_a_broken_commit") == "git"
    assert group_of("tests/local/test_fail_fast.py::test_a_fatal_role") == "s3"
    assert group_of("tests/local/test_failure_notifications.py::test_a_failed_run_is_announced") == "faults"
    assert group_of("tests/local/test_clean.py::test_local_clean_refuses_a_retention_out_of_range") == "faults"
    assert group_of("tests/aws/test_stacks.py::test_one_service_and_one_task_definition_per_role[dev]") is None


def test_the_groups_come_first_in_collection_order():
    ranks = [group_rank(f"tests/local/{name}") for name in ("test_dag_bundles.py::a", "test_drain.py::b")]
    assert max(ranks) < group_rank("tests/aws/test_stacks.py::c")


def test_every_group_has_its_turn_to_start():
    from tests.local.cluster_support import CLUSTER_GROUPS, START_ORDER

    assert sorted(START_ORDER) == sorted({group for _, group in CLUSTER_GROUPS})


def test_in_a_group_the_tests_without_a_real_cluster_come_before_the_ones_that_wait_for_its_start():
    assert group_rank("tests/local/test_fail_fast.py::a") < group_rank("tests/local/test_dag_bundles_s3.py::b")


def test_the_faults_cluster_runs_its_borrowed_tests_before_any_fault():
    borrowed = group_rank("tests/local/test_clean.py::a")
    assert borrowed < group_rank("tests/local/test_cluster.py::test_api_server_down_90_s")
