"""`plan` with worker queues: a row per queue (size, count range, capacity, IAM) and its cost line."""

from __future__ import annotations

import pytest

from airflow_celery.plan import make_plan
from tests.plan.conftest import PROJECT_DIR

HEAVY = (
    "workerQueues={heavy: {cpu: 4096, memory: 16384, concurrency: 8, min: 0, max: 2, capacity: fargate, "
    "managed: [arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess]}}"
)


@pytest.fixture(scope="module")
def queued_plan():
    return make_plan(PROJECT_DIR, "dev", ("workerCapacity=fargate-spot", "dbInstanceClass=db.t4g.medium", HEAVY))


def test_a_row_per_queue_with_its_size_range_capacity_and_iam(queued_plan):
    rows = {row.role: row for row in queued_plan.roles}
    heavy = rows["worker-heavy"]
    assert heavy.command == "airflow celery worker --queues heavy"
    assert heavy.size == "4 vCPU / 16 GiB"
    assert heavy.count_text == "0 (0-2)"
    assert heavy.runs_on == "Fargate (fargate; IAM: 1 managed policies)"
    assert [row.role for row in queued_plan.roles].index("worker-heavy") == [
        row.role for row in queued_plan.roles
    ].index("worker") + 1


def test_a_cost_line_per_queue_from_min_to_max(queued_plan):
    (line,) = [line for line in queued_plan.cost.lines if line.item.startswith("worker-heavy ")]
    assert "4 vCPU, 16 GiB, on-demand" in line.item
    assert line.monthly_usd == 0  # min 0: nothing runs until a task comes
    low, high = line.range_usd
    assert low == 0 and high > 0
    (default,) = [line for line in queued_plan.cost.lines if line.item.startswith("worker (")]
    assert "Spot" in default.item
    (alarms,) = [line for line in queued_plan.cost.lines if line.item == "alarms (worker scaling)"]
    assert alarms.quantity == "2 alarms"  # the default queue's and heavy's
