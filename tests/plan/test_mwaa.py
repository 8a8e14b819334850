"""The same task slots priced as MWAA: environment plus workers beyond the one it includes."""

from __future__ import annotations

from airflow_celery.plan.mwaa import TASKS_PER_WORKER, option, prices_for


def test_dev_slots_priced_as_mwaa_by_hand(dev_plan):
    comparison = dev_plan.mwaa

    assert comparison.slots == 16  # 1 worker x 16 slots
    assert comparison.cheapest.environment_class == "mw1.small"
    assert comparison.cheapest.workers == 4  # 5 tasks per mw1.small worker
    assert comparison.cheapest.monthly_usd == 478.15  # (0.49 + 3 * 0.055) * 730
    assert comparison.ratio == 0.26  # 124.34 / 478.15


def test_prod_slots(prod_plan):
    assert prod_plan.mwaa.slots == 32
    assert prod_plan.mwaa.cheapest.workers == 7
    assert prod_plan.mwaa.cheapest.monthly_usd == 598.60  # (0.49 + 6 * 0.055) * 730


def test_one_large_worker_is_the_environment_alone():
    large = option("mw1.large", TASKS_PER_WORKER["mw1.large"], prices_for("us-east-1"))
    assert (large.workers, large.monthly_usd) == (1, 722.70)  # infracost's golden file: 730 h of Large


def test_every_mwaa_price_names_its_source():
    from airflow_celery.plan.mwaa import PRICES

    for prices in PRICES.values():
        assert set(prices.environment_hour) == set(prices.worker_hour) == set(TASKS_PER_WORKER)
        for price in (*prices.environment_hour.values(), *prices.worker_hour.values()):
            assert price.usd > 0 and price.verified == (not price.source.startswith("not verified")), price
    assert prices_for("us-east-1").environment_hour["mw1.small"].verified
