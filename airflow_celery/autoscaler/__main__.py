"""`python -m airflow_celery.autoscaler cloudwatch|supervisor`: the autoscaler loop with the sink of its place."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from airflow_celery.autoscaler.counts import database_counter
from airflow_celery.autoscaler.loop import rule_from_env, run
from airflow_celery.cluster.env import DATABASE_URL_VAR, DEFAULT_QUEUE, DEFAULT_QUEUE_VAR, METRIC_NAMESPACE_VAR

INTERVAL_VAR = "AIRFLOW_CELERY_AUTOSCALER_INTERVAL"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = os.environ
    if args[:1] == ["cloudwatch"]:
        from airflow_celery.autoscaler.cloudwatch import CloudWatchSink

        if not env.get(METRIC_NAMESPACE_VAR):
            print(f"{METRIC_NAMESPACE_VAR} is not set: nowhere to publish", file=sys.stderr)
            return 78
        sink = CloudWatchSink(env[METRIC_NAMESPACE_VAR])
    elif args[:1] == ["supervisor"] and len(args) == 2:
        from airflow_celery.local.autoscaler import SupervisorSink

        sink = SupervisorSink.from_state_dir(args[1])
    else:
        print("usage: python -m airflow_celery.autoscaler cloudwatch | supervisor STATE_DIR", file=sys.stderr)
        return 64
    rule = rule_from_env(env)
    counter = database_counter(env[DATABASE_URL_VAR], env.get(DEFAULT_QUEUE_VAR) or DEFAULT_QUEUE)
    run(rule, counter, sink, interval=float(env.get(INTERVAL_VAR, "30")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
