"""The estimate: the dev stack's arithmetic by hand, the prod stack's rows, the price table's rules."""

from __future__ import annotations

import pytest

from airflow_celery.plan import PlanError, make_plan
from airflow_celery.plan.pricing import PRICES, capacity_split, prices_for
from tests.plan.conftest import PROJECT_DIR


def _by_item(plan) -> dict[str, float]:
    return {line.item: line.monthly_usd for line in plan.cost.lines}


def test_dev_estimate_by_hand(dev_plan):
    """us-east-1, 730 h: Fargate $0.04048 per vCPU-hour and $0.004445 per GB-hour, and so on (pricing.py)."""
    lines = _by_item(dev_plan)

    assert lines["api-server (0.5 vCPU, 2 GiB, on-demand)"] == 21.26  # (0.5*0.04048 + 2*0.004445) * 730
    assert lines["scheduler (0.5 vCPU, 2 GiB, on-demand)"] == 21.26
    assert lines["dag-processor (0.5 vCPU, 1 GiB, on-demand)"] == 18.02  # (0.02024 + 0.004445) * 730
    assert lines["triggerer (0.5 vCPU, 1 GiB, on-demand)"] == 18.02
    # dev's worker runs on Fargate Spot: 0.3 x on-demand (the table's placeholder), 0.3 * 39.28495 = 11.785
    assert lines["worker (1 vCPU, 3 GiB, Spot)"] == 11.79
    assert lines["flower (0.25 vCPU, 0.5 GiB, on-demand)"] == 9.01  # (0.01012 + 0.0022225) * 730
    assert lines["redis (1 vCPU, 2 GiB, on-demand)"] == 36.04  # (0.04048 + 0.00889) * 730
    assert lines["PostgreSQL db.t4g.small, single-AZ"] == 23.36  # 0.032 * 730
    assert lines["storage 20 GiB gp3, single-AZ"] == 2.30  # 20 * 0.115
    assert lines["NAT gateway"] == 32.85  # 0.045 * 730
    assert lines["NAT data processed (assumed)"] == 0.90  # 20 GB * 0.045
    assert lines["application load balancer"] == 16.43  # 0.0225 * 730 = 16.425
    assert lines["load balancer capacity units (assumed)"] == 5.84  # 1 LCU * 730 h * 0.008
    assert lines["ingestion (assumed 1 GB per task)"] == 3.50  # 7 tasks * 1 GB * 0.50
    assert lines["storage (7 days kept)"] == 0.05  # 7 GB * 7/30 * 0.03 = 0.049
    assert lines["secrets (API calls only at task start: negligible)"] == 4.00  # 10 * 0.40
    # the NAT's address only: dev's load balancer is internal (no public address)
    assert lines["addresses (NAT Elastic IPs, load balancer nodes)"] == 3.65  # 1 IP * 0.005 * 730
    assert len(lines) == 17
    # 135.40 Fargate + 25.66 RDS + 33.75 NAT + 22.27 ALB + 3.55 logs + 4.00 secrets + 3.65 IPv4
    assert dev_plan.cost.total == 228.28


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
        assert row in readme and f"| {plan.mwaa.ratio:.2f} |" in readme, f"update the README's {plan.stack} row"


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
