"""Airflow 3 features that need every role of the cluster, in one short run (under 40 s).

- TaskFlow (`@dag`, `@task`) with return values passed on through XCom (Task Execution API);
- a task group;
- a deferrable sensor, so the run needs the triggerer: `WaitSensor(deferrable=True)` always defers
  (its wait starts when the task starts), unlike `TimeDeltaSensor`, which returns at once when the
  run is already older than its delta;
- retries: `flaky` fails on its first try on purpose and succeeds on the retry;
- `check` compares every value it received with the expected ones, so a lost or wrong XCom fails the run.
"""

from datetime import datetime, timedelta

from airflow.providers.standard.sensors.time_delta import WaitSensor
from airflow.sdk import dag, task, task_group

NUMBERS = [1, 2, 3, 4]
EXPECTED_TOTAL = sum(n * n for n in NUMBERS)  # 30
RETRY_SUCCEEDS_ON_TRY = 2


@task
def extract() -> list[int]:
    return list(NUMBERS)


@task_group(group_id="transform")
def transform(numbers):
    @task
    def square(values: list[int]) -> list[int]:
        return [value * value for value in values]

    @task
    def total(squares: list[int]) -> int:
        return sum(squares)

    return total(square(numbers))


@task(retries=2, retry_delay=timedelta(seconds=2))
def flaky(total: int, **context) -> dict:
    """Fails on the first try, so the run proves that a retry is scheduled and picked up again."""
    try_number = context["ti"].try_number
    print(f"flaky: try {try_number}, got total={total}")
    if try_number < RETRY_SUCCEEDS_ON_TRY:
        raise RuntimeError(f"failing on try {try_number} on purpose; the retry succeeds")
    return {"total": total, "try_number": try_number}


@task
def check(result: dict) -> str:
    expected = {"total": EXPECTED_TOTAL, "try_number": RETRY_SUCCEEDS_ON_TRY}
    if result != expected:
        raise ValueError(f"XCom mismatch: got {result!r}, expected {expected!r}")
    return "ok"


@dag(
    dag_id="airflow3_features",
    schedule=None,
    start_date=datetime(2023, 1, 1),
    catchup=False,
    tags=["airflow-celery", "demo"],
)
def airflow3_features():
    wait = WaitSensor(task_id="wait_deferred", time_to_wait=timedelta(seconds=5), deferrable=True)
    result = flaky(transform(extract()))
    wait >> result
    check(result)


airflow3_features()
