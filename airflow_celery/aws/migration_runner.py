"""The Lambda function that runs migrate as a one-off ECS task and waits for it (aws/migration.py ships this file).

`pulumi up` invokes it synchronously (aws.lambda_.Invocation): its return ends the migrate step, its exception
fails the update. It runs in AWS Lambda's Python runtime, which provides boto3: it imports nothing from this
package. The event says what to run:

- `cluster`, `taskDefinition`, `container`, `subnets`, `securityGroups`: the migrate task and where it runs;
- `services`: the services that read the metadata database, by their `Name` tag, each with the task definition
  and count it runs once migrated.

First the migrate task runs with STOP_FOR_MIGRATIONS set: migrate exits with EX_TEMPFAIL instead of migrating
when the schema is behind its Airflow (entrypoint/migrate.py). Then the listed services are scaled to 0 and waited for,
migrate runs again, and each service gets its new task definition and its count back: Airflow's docs ("Setting
up the database") say components must not run while the migration runs, and the old image must never run again on
the migrated schema. A listed service found at 0 is brought back the same way, so a step that failed halfway is
repaired by the next `up`.
"""

from __future__ import annotations

import json
import time

import boto3

STOP_FOR_MIGRATIONS_VAR = "AIRFLOW_CELERY_STOP_FOR_MIGRATIONS"
EX_TEMPFAIL = 75
POLL_SECONDS = 10
REPORT_MARGIN_SECONDS = 30
"""Stop waiting this long before Lambda's own timeout, so the failure says what was still running."""
START_ATTEMPTS = 3
START_RETRY_SECONDS = 20
"""A task that never started (stop code TaskFailedToStart: image pull, secrets, ENI) is tried again: on a first
deploy the NAT route, or IAM's view of a just-granted execution role, may lag the step by seconds."""


class MigrationFailed(Exception):
    """Migrate did not finish with exit code 0: the message says how it ended and where its log is."""


IAM_PROPAGATION_SECONDS = 60
"""On a first deploy the runner's own policy was attached seconds before this invocation, and IAM is eventually
consistent: its first calls may be refused (AccessDeniedException) for a while. They are tried again this long."""


def handler(event: dict, context) -> dict:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - REPORT_MARGIN_SECONDS
    ecs = boto3.client("ecs")
    services = while_iam_propagates(lambda: find_services(ecs, event))
    first = run_migrate(ecs, event, deadline, stop_for_migrations=bool(services))
    stopped: dict[str, int] = {}
    if first["exitCode"] == EX_TEMPFAIL:
        stopped = stop_services(ecs, event["cluster"], services, deadline)
        first = run_migrate(ecs, event, deadline, stop_for_migrations=False)
    if first["exitCode"] != 0:
        raise MigrationFailed(describe(first))
    restored = start_services(ecs, event, services)
    return {"task": first["taskArn"], "stoppedServices": sorted(stopped), "restoredServices": restored}


def while_iam_propagates(call):
    """`call()`, tried again while IAM still refuses this function's just-attached policy."""
    give_up = time.monotonic() + IAM_PROPAGATION_SECONDS
    while True:
        try:
            return call()
        except Exception as error:  # botocore's ClientError; boto3 is the only import here
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != "AccessDeniedException" or time.monotonic() >= give_up:
                raise
            print(f"refused while IAM propagates the runner's policy ({error}); trying again in 5 s")
            time.sleep(5)


def find_services(ecs, event: dict) -> dict[str, dict]:
    """The cluster's services listed in the event (by their Name tag), as DescribeServices returns them."""
    wanted = set(event.get("services", {}))
    pages = ecs.get_paginator("list_services").paginate(cluster=event["cluster"])
    arns = [arn for page in pages for arn in page["serviceArns"]]
    found = {}
    for start in range(0, len(arns), 10):  # DescribeServices takes at most 10 services
        described = ecs.describe_services(cluster=event["cluster"], services=arns[start : start + 10], include=["TAGS"])
        for service in described["services"]:
            name = next((tag["value"] for tag in service.get("tags", []) if tag["key"] == "Name"), None)
            if name in wanted and service["status"] == "ACTIVE":
                found[name] = service
    return found


def run_migrate(ecs, event: dict, deadline: float, *, stop_for_migrations: bool) -> dict:
    """Run the migrate task until it starts (START_ATTEMPTS) and wait until it stops: its container's exit code,
    task and stop reason."""
    for attempt in range(1, START_ATTEMPTS + 1):
        result = run_migrate_once(ecs, event, deadline, stop_for_migrations=stop_for_migrations)
        if result["stopCode"] != "TaskFailedToStart" or attempt == START_ATTEMPTS or time.monotonic() >= deadline:
            return result
        print(f"migrate task did not start ({result['reason']}); trying again in {START_RETRY_SECONDS} s")
        time.sleep(START_RETRY_SECONDS)
    raise AssertionError("unreachable")  # pragma: no cover


def run_migrate_once(ecs, event: dict, deadline: float, *, stop_for_migrations: bool) -> dict:
    """Run the migrate task once and wait until it stops."""
    flag = {"name": STOP_FOR_MIGRATIONS_VAR, "value": "true" if stop_for_migrations else "false"}
    network = {"subnets": event["subnets"], "securityGroups": event["securityGroups"], "assignPublicIp": "DISABLED"}
    started = ecs.run_task(
        cluster=event["cluster"],
        taskDefinition=event["taskDefinition"],
        launchType="FARGATE",
        count=1,
        startedBy="airflow-celery-migrate",
        networkConfiguration={"awsvpcConfiguration": network},
        overrides={"containerOverrides": [{"name": event["container"], "environment": [flag]}]},
    )
    if started.get("failures") or not started.get("tasks"):
        raise MigrationFailed(f"ECS did not start the migrate task: {json.dumps(started.get('failures', []))}")
    task_arn = started["tasks"][0]["taskArn"]
    task = wait_until_stopped(ecs, event["cluster"], task_arn, deadline)
    container = next((c for c in task.get("containers", []) if c["name"] == event["container"]), {})
    return {
        "taskArn": task_arn,
        "exitCode": container.get("exitCode"),
        "reason": container.get("reason") or task.get("stoppedReason", ""),
        "stopCode": task.get("stopCode", ""),
        "logGroup": event.get("logGroup", ""),
    }


def wait_until_stopped(ecs, cluster: str, task_arn: str, deadline: float) -> dict:
    while True:
        # ECS is eventually consistent: a task RunTask just started may not be described yet (an empty `tasks` with a
        # MISSING failure); that is "not yet", not an error.
        found = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        task = found[0] if found else {"lastStatus": "PROVISIONING (not described yet)"}
        if task["lastStatus"] == "STOPPED":
            return task
        if time.monotonic() >= deadline:
            raise MigrationFailed(
                f"migrate task {task_arn} was still {task['lastStatus']} when the step's time ran out; it keeps "
                "running, and the next `pulumi up` waits for it (the migrate lock) before migrating again"
            )
        time.sleep(POLL_SECONDS)


def describe(result: dict) -> str:
    code = "no exit code" if result["exitCode"] is None else f"exit code {result['exitCode']}"
    where = f"; its log is in CloudWatch group {result['logGroup']}" if result["logGroup"] else ""
    return f"migrate task {result['taskArn']} failed: {code}, {result['stopCode']} {result['reason']}".strip() + where


def stop_services(ecs, cluster: str, services: dict[str, dict], deadline: float) -> dict[str, int]:
    """Scale every listed service to 0 and wait until none of their tasks runs; returns their former counts."""
    counts = {name: service["desiredCount"] for name, service in services.items() if service["desiredCount"] > 0}
    for name in counts:
        ecs.update_service(cluster=cluster, service=services[name]["serviceArn"], desiredCount=0)
    while True:
        arns = [services[name]["serviceArn"] for name in counts]
        running = {
            s["serviceName"]: s["runningCount"] + s["pendingCount"]
            for start in range(0, len(arns), 10)
            for s in ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]
        }
        if not any(running.values()):
            return counts
        if time.monotonic() >= deadline:
            raise MigrationFailed(f"services still running tasks when the step's time ran out: {running}")
        time.sleep(POLL_SECONDS)


def start_services(ecs, event: dict, services: dict[str, dict]) -> list[str]:
    """Every listed service now at 0 gets its new task definition and its count; the old image never comes back."""
    restored = []
    for name, service in services.items():
        current = ecs.describe_services(cluster=event["cluster"], services=[service["serviceArn"]])["services"][0]
        target = event["services"][name]
        if current["desiredCount"] == 0 and int(target["desiredCount"]) > 0:
            ecs.update_service(
                cluster=event["cluster"],
                service=service["serviceArn"],
                taskDefinition=target["taskDefinition"],
                desiredCount=int(target["desiredCount"]),
            )
            restored.append(name)
    return sorted(restored)
