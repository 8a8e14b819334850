"""`python -m airflow_celery.autoscaler cloudwatch|supervisor`: the autoscaler loop with the sink of its place."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from airflow_celery.autoscaler.counts import database_counter
from airflow_celery.autoscaler.loop import Lane, Sink, rule_from_env, run, run_lanes
from airflow_celery.cluster.env import DATABASE_URL_VAR, DEFAULT_QUEUE, DEFAULT_QUEUE_VAR, METRIC_NAMESPACE_VAR
from airflow_celery.cluster.queues import QUEUES_SCALING_VAR, parse_queues_scaling
from airflow_celery.cluster.scaling import Autoscaler, ScalingRule

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

        def sink_of(queue: str | None) -> Sink:
            return CloudWatchSink(env[METRIC_NAMESPACE_VAR], queue=queue)

    elif args[:1] == ["supervisor"] and len(args) == 2:
        from airflow_celery.local.autoscaler import SupervisorSink

        def sink_of(queue: str | None) -> Sink:
            return SupervisorSink.from_state_dir(args[1], queue)

    else:
        print("usage: python -m airflow_celery.autoscaler cloudwatch | supervisor STATE_DIR", file=sys.stderr)
        return 64
    interval = float(env.get(INTERVAL_VAR, "30"))
    if QUEUES_SCALING_VAR not in env:  # one queue: as it always ran
        counter = database_counter(env[DATABASE_URL_VAR], env.get(DEFAULT_QUEUE_VAR) or DEFAULT_QUEUE)
        run(rule_from_env(env), counter, sink_of(None), interval=interval)
        return 0
    run_lanes(lanes_from_env(env, sink_of), interval=interval)
    return 0


def lanes_from_env(env: Mapping[str, str], sink_of: Callable[[str | None], Sink]) -> list[Lane]:
    """One lane per queue that autoscales: the default queue's when its min < max, and each extra queue's
    (cluster/env.py, `_autoscaler`); a ValueError names the variable."""
    url = env[DATABASE_URL_VAR]
    default_rule = rule_from_env(env)
    lanes = []
    if default_rule.autoscaling:
        default = env.get(DEFAULT_QUEUE_VAR) or DEFAULT_QUEUE
        lanes.append(Lane(default, Autoscaler(default_rule), database_counter(url, default), sink_of(None)))
    for queue in parse_queues_scaling(env[QUEUES_SCALING_VAR]):
        rule = ScalingRule(queue.min_count, queue.max_count, queue.concurrency, default_rule.scale_in_cooldown)
        lanes.append(Lane(queue.name, Autoscaler(rule), database_counter(url, queue.name), sink_of(queue.name)))
    return lanes


if __name__ == "__main__":
    sys.exit(main())
