"""The estimate: the dev stack's arithmetic by hand, the prod stack's rows, the price table's rules."""

from __future__ import annotations

import pytest

from airflow_celery.plan import PlanError, make_plan
from airflow_celery.plan.pricing import PRICES, capacity_split, prices_for
from tests.plan.conftest import PROJECT_DIR


def _by_item(plan) -> dict[str, float]:
    return {line.item: line.monthly_usd for line in plan.cost.lines}


def test_dev_estimate_by_hand(dev_plan):
    """us-east-1, 730 h. dev runs every Airflow service on Fargate Spot (x86: ARM64 is a lever left off in dev,
    README): Spot is the table's placeholder of 0.3 x on-demand, x86 on-demand $0.04048 per vCPU-hour and
    $0.004445 per GB-hour (pricing.py)."""
    lines = _by_item(dev_plan)

    assert lines["api-server (0.5 vCPU, 2 GiB, Spot)"] == 6.38  # 0.3 * (0.5*0.04048 + 2*0.004445) * 730
    assert lines["scheduler (0.5 vCPU, 2 GiB, Spot)"] == 6.38
    assert lines["dag-processor (0.5 vCPU, 1 GiB, Spot)"] == 5.41  # 0.3 * (0.02024 + 0.004445) * 730
    assert lines["triggerer (0.5 vCPU, 1 GiB, Spot)"] == 5.41
    worker = next(item for item in lines if item.startswith("worker (1 vCPU, 3 GiB, Spot)"))
    assert lines[worker] == 0.00  # idles at zero workers; 11.79 at its one
    assert lines["flower (0.25 vCPU, 0.5 GiB, Spot)"] == 2.70  # 0.3 * (0.01012 + 0.0022225) * 730
    assert lines["redis (0.25 vCPU, 1 GiB, on-demand)"] == 10.63  # (0.25*0.04048 + 0.004445) * 730
    assert lines["PostgreSQL db.t4g.small, single-AZ"] == 23.36  # 0.032 * 730
    assert lines["storage 20 GiB gp3, single-AZ"] == 2.30  # 20 * 0.115
    assert lines["NAT gateway"] == 32.85  # 0.045 * 730
    assert lines["NAT data: API calls (assumed)"] == 0.22  # 5 GB * 0.045
    # the S3 gateway endpoint carries the image layers: no pull crosses the NAT
    assert lines["NAT data: image pulls (assumed; layers via the S3 gateway endpoint)"] == 0.00
    assert lines["application load balancer"] == 16.43  # 0.0225 * 730 = 16.425
    assert lines["load balancer capacity units (assumed)"] == 0.58  # 0.1 LCU * 730 h * 0.008
    assert lines["ingestion (assumed 1 GB per task)"] == 3.00  # 6 tasks * 1 GB * 0.50
    assert lines["secrets (API calls only at task start: negligible)"] == 4.00  # 10 * 0.40
    # the NAT's address only: dev's load balancer is internal (no public address)
    assert lines["addresses (NAT Elastic IPs, load balancer nodes)"] == 3.65  # 1 IP * 0.005 * 730
    assert lines["autoscaler metrics (queued, running, desired workers)"] == 0.90  # 3 * 0.30
    assert lines["alarms (worker scaling)"] == 0.10
    assert not [item for item in lines if item.startswith("Container Insights")]  # off in dev
    assert dev_plan.cost.total == 124.34


def test_dev_meets_the_cost_goal_against_mwaas_floor(dev_plan):
    """At most 0.35 x the cheapest MWAA environment alone (mw1.small, $0.49 x 730 h) while running."""
    assert dev_plan.mwaa.base_usd == 357.70
    assert dev_plan.cost.total <= 0.35 * dev_plan.mwaa.base_usd
    assert dev_plan.mwaa.base_ratio == 0.35  # 124.34 / 357.70 = 0.348


def test_every_usage_driven_line_says_it_is_assumed(dev_plan, prod_plan):
    """A line whose quantity comes from ASSUMPTIONS names itself assumed; a price no source confirmed is marked."""
    usage_driven = ("NAT data", "load balancer capacity units", "ingestion", "Container Insights", "data processed")
    for plan in (dev_plan, prod_plan):
        for line in plan.cost.lines:
            if line.item.startswith(usage_driven):
                assert "assumed" in line.item, line.item


def test_image_pulls_cross_the_nat_without_the_s3_endpoint(dev_plan):
    import copy

    from airflow_celery.plan.pricing import ASSUMPTIONS, image_pull_gb, task_starts

    mocks = copy.copy(dev_plan.mocks)  # the session's plan stays as it is
    mocks.records = [r for r in dev_plan.mocks.records if r.type != "aws:ec2/vpcEndpoint:VpcEndpoint"]
    starts = task_starts(mocks, dev_plan.config)
    assert starts == 6 * 8 + 1 * 2 * 30  # every task at 8 deploys, and the one worker twice a day
    assert image_pull_gb(mocks, dev_plan.config) == starts * ASSUMPTIONS["image_gb"]


def test_container_insights_and_interface_endpoints_are_priced(prod_plan):
    lines = _by_item(prod_plan)
    # 12 cluster metrics + 6 services x 25 (assumed counts) at $0.30 a custom metric
    assert lines["Container Insights metrics (assumed count, 6 services)"] == 48.60
    plan = make_plan(PROJECT_DIR, "dev", ("interfaceEndpoints=true",))
    endpoints = _by_item(plan)
    # 4 endpoints x 2 zones x 730 h x $0.01
    assert endpoints["4 interface endpoints (ECR api/dkr, Secrets Manager, Logs)"] == 58.40


def test_prod_estimate_rows(prod_plan):
    lines = {line.item: line for line in prod_plan.cost.lines}

    assert lines["PostgreSQL db.m7g.large, multi-AZ (primary + standby)"].quantity == "2 x 730 h"
    assert lines["storage 100 GiB gp3, multi-AZ (primary + standby)"].monthly_usd == 23.00  # 2 * 100 * 0.115
    assert lines["Redis cache.t4g.medium nodes (primary + replicas)"].quantity == "2 x 730 h"
    worker = lines["worker (1 vCPU, 3 GiB, on-demand)"]
    assert worker.quantity == "2 tasks x 730 h"
    # workerCapacity mixed: the 2 of workerMinCount on-demand at any count, workers 3 to 10 on Spot
    assert worker.range_usd == (78.57, 78.57)
    assert lines["worker (1 vCPU, 3 GiB, Spot)"].range_usd == (0.0, 94.29)  # 8 x 0.3 x 39.28495
    assert not any(line.item.startswith("redis (") for line in prod_plan.cost.lines)  # no Fargate Redis
    assert prod_plan.cost.unverified  # db.m7g.large and cache.t4g.medium are marked unverified


def test_an_unknown_region_is_a_clear_error():
    with pytest.raises(PlanError, match=r"no prices for region 'ap-south-1' .* regions priced: us-east-1, eu-west-1"):
        make_plan(PROJECT_DIR, "dev", ("aws:region=ap-south-1",))


def test_eu_west_1_is_priced(dev_plan):
    plan = make_plan(PROJECT_DIR, "dev", ("aws:region=eu-west-1",))

    assert plan.region == "eu-west-1"
    assert plan.cost.total != dev_plan.cost.total
    assert _by_item(plan)["NAT gateway"] == 35.04  # 0.048 * 730


def test_an_unpriced_instance_class_names_what_is_priced():
    with pytest.raises(PlanError, match=r"no us-east-1 price for RDS PostgreSQL class 'db.r6g.large'.*db.t4g.small"):
        make_plan(PROJECT_DIR, "dev", ("dbInstanceClass=db.r6g.large",))


def test_every_region_prices_the_same_things_and_says_where_each_price_came_from():
    regions = list(PRICES.values())
    for prices in regions:
        assert {k: set(v) if isinstance(v, dict) else None for k, v in vars(prices).items() if k != "region"} == {
            k: set(v) if isinstance(v, dict) else None for k, v in vars(regions[0]).items() if k != "region"
        }
        for price in prices.all_prices():
            assert price.usd > 0 and price.source
            assert price.verified == (not price.source.startswith("not verified")), price
    assert prices_for("us-east-1").fargate_vcpu_hour["X86_64"].verified


def test_capacity_split_places_bases_first_then_by_weight():
    assert capacity_split(3, None) == {"FARGATE": 3.0}
    mixed = [{"capacityProvider": "FARGATE", "base": 2, "weight": 0}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert capacity_split(10, mixed) == {"FARGATE": 2.0, "FARGATE_SPOT": 8.0}
    assert capacity_split(1, mixed) == {"FARGATE": 1.0, "FARGATE_SPOT": 0.0}


def test_the_readme_estimates_are_the_plans(dev_plan, prod_plan):
    readme = (PROJECT_DIR / "README.md").read_text()
    from airflow_celery.plan.pricing import PRICES_AS_OF

    assert f"price table of **{PRICES_AS_OF}**" in readme
    for plan in (dev_plan, prod_plan):
        row = f"| ${plan.cost.total:,.2f} | ${plan.mwaa.cheapest.monthly_usd:,.2f} "
        assert row in readme and f"| {plan.mwaa.ratio:.2f} | {plan.mwaa.base_ratio:.2f} |" in readme, (
            f"update the README's {plan.stack} row"
        )


def _fake_service(mocks, role, count, cpu, memory, arch, strategies=None):
    from airflow_celery.aws.offline import Recorded

    arn = f"arn:aws:ecs:us-east-1:123456789012:taskdefinition/x-{role}-task"
    definition = Recorded("aws:ecs/taskDefinition:TaskDefinition", f"x-{role}-task", "urn:td", "id", "", True,
                          {"family": f"x-{role}", "cpu": str(cpu), "memory": str(memory),
                           "runtimePlatform": {"cpuArchitecture": arch}}, {"arn": arn})  # fmt: skip
    inputs = {"taskDefinition": arn, "desiredCount": float(count)}
    if strategies:
        inputs["capacityProviderStrategies"] = strategies
    service = Recorded("aws:ecs/service:Service", f"x-{role}-service", "urn:s", "id", "", True, inputs, {})
    mocks.records += [definition, service]


def test_spot_and_arm_are_priced_where_a_service_uses_them():
    """Capacity provider strategies and the task's CPU architecture decide the Fargate rate of each task."""
    from airflow_celery.aws.args import resolve_args
    from airflow_celery.aws.offline import RecordingMocks
    from airflow_celery.plan.pricing import fargate_lines

    mocks = RecordingMocks()
    mixed = [{"capacityProvider": "FARGATE", "base": 1, "weight": 0}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    _fake_service(mocks, "worker", 3, 1024, 2048, "ARM64", mixed)
    _fake_service(mocks, "scheduler", 1, 512, 1024, "X86_64")
    config = resolve_args(
        "x",
        {
            "worker_count": 3,
            "worker_min_count": 1,
            "worker_max_count": 5,
            "worker_concurrency": 4,
            "db_instance_class": "db.t4g.medium",
        },
    )

    lines = {line.item: line for line in fargate_lines(mocks, config, prices_for("us-east-1"))}

    on_demand = lines["worker (1 vCPU, 2 GiB, on-demand, ARM)"]
    spot = lines["worker (1 vCPU, 2 GiB, Spot, ARM)"]
    assert on_demand.quantity == "1 task x 730 h"
    assert on_demand.monthly_usd == 28.84  # (0.03238 + 2 * 0.00356) * 730 = 28.835
    assert spot.quantity == "2 tasks x 730 h"
    assert spot.monthly_usd == round(2 * 730 * (0.03238 * 0.3 + 2 * 0.00356 * 0.3), 2)
    assert not spot.prices[0].verified  # Spot rates move: marked unverified
    assert lines["scheduler (0.5 vCPU, 1 GiB, on-demand)"].monthly_usd == 18.02


def test_prod_plan_lists_every_operator_alarm_the_metric_and_the_dashboard(prod_plan, dev_plan):
    """Each alarm $0.10, the failed-task metric $0.30 (a custom metric), the dashboard $3.00; dev has none."""
    lines = _by_item(prod_plan)
    alarms = {item.removeprefix("alarm ") for item in lines if item.startswith("alarm ")}
    assert alarms == {"api-server-unhealthy", "alb-5xx", "alb-no-target", "db-cpu", "db-connections", "db-storage",
                      "scheduler-down", "autoscaler-silent", "tasks-queued", "workers-at-max", "scheduler-heartbeat",
                      "dag-processor-heartbeat", "triggerer-heartbeat", "tasks-lost", "dag-import-errors"}  # fmt: skip
    assert all(lines[f"alarm {key}"] == 0.10 for key in alarms)
    assert lines["failed task tries (metric filter on the scheduler's log)"] == 0.30
    assert lines["dashboard (free for an account's first three)"] == 3.00
    assert lines["alarms (worker scaling)"] == 0.10
    assert not [item for item in _by_item(dev_plan) if item.startswith(("alarm ", "dashboard"))]


def test_the_alarms_topic_key_is_priced_with_monitoring_only(prod_plan, dev_plan):
    """A customer-managed KMS key is $1 a month (https://aws.amazon.com/kms/pricing/); prod's monitoring creates one
    for the alarms' topic (aws/alarms.py topic_key); dev turns monitoring off and has neither key nor line."""
    from airflow_celery.plan.pricing import KMS_PAGE

    item = "alarms' topic key (first year; requests not priced)"
    (line,) = [line for line in prod_plan.cost.lines if line.item == item]
    assert (line.concern, line.quantity, line.monthly_usd) == ("KMS", "1 key", 1.00)
    assert line.prices[0].verified and line.prices[0].source == KMS_PAGE
    assert item not in _by_item(dev_plan)
    monitored = make_plan(PROJECT_DIR, "dev", ("monitoring=true",))
    assert _by_item(monitored)[item] == 1.00


def test_airflow_metrics_are_priced_per_metric_and_agent_call(prod_plan, dev_plan):
    """16 custom metrics at $0.30 (the allow-list with the default pool); prod runs an agent in 7 tasks (2
    schedulers, 1 dag-processor, 2 triggerers, 2 workers), each calling PutMetricData once a minute: 43,800 calls
    a month each at $0.01 per 1,000. Dev turns Airflow's metrics off."""
    from airflow_celery.cluster.metrics import published_names

    config = prod_plan.config
    tasks = config.scheduler_count + 1 + config.triggerer_count + config.worker_count
    lines = _by_item(prod_plan)
    assert len(published_names()) == 16
    assert lines["Airflow's metrics (StatsD allow-list, default pool)"] == 4.80
    (calls,) = [item for item in lines if item.startswith("metrics agents' PutMetricData")]
    assert f"each of {tasks} tasks" in calls and lines[calls] == round(tasks * 43_800 / 1000 * 0.01, 2)
    assert not [item for item in _by_item(dev_plan) if "Airflow's metrics" in item or "PutMetricData" in item]


def test_task_logs_in_cloudwatch_are_priced_per_worker(prod_plan):
    """2 workers x 1 GB (assumed) ingested at $0.50, 90 days kept: 6 GB-month at $0.03 = 1.00 + 0.18."""
    (line,) = [line for line in prod_plan.cost.lines if line.item.startswith("task logs")]
    assert line.monthly_usd == 1.18 and "assumed" in line.item
