"""The autoscaler fails loudly and restarts calmly.

- its health file is touched only after a round that counted: a sidecar whose every database round fails must look
  unhealthy (roles.py, AUTOSCALER: the check tests the file's age);
- after a restart on ECS it reads back the worker count it last published, so its first decision goes through the
  scale-in cool-down like any other instead of dropping to the load's count at once.
"""

from __future__ import annotations

import datetime
import subprocess

import botocore.session
from botocore.stub import Stubber

from airflow_celery.autoscaler.cloudwatch import DESIRED_METRIC, READ_BACK_SECONDS, CloudWatchSink
from airflow_celery.autoscaler.loop import run
from airflow_celery.cluster.roles import AUTOSCALER
from airflow_celery.cluster.scaling import Load, ScalingRule

NOW = datetime.datetime(2026, 12, 6, 4, 0, tzinfo=datetime.UTC)
NAMESPACE = "AirflowCelery/airflow"


def cloudwatch():
    return botocore.session.get_session().create_client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_a_sidecar_whose_every_count_fails_looks_unhealthy(health_file):
    alive = health_file

    def count():
        raise OSError("could not connect to server")

    class Sink:
        def current_workers(self):
            return 2

        def apply(self, load, desired):
            raise AssertionError("nothing to apply without a count")

    run(ScalingRule(0, 3, 4), count, Sink(), interval=0, rounds=3, sleep=lambda _: None)
    assert not alive.exists()
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_CELERY_AUTOSCALER_HEARTBEAT": str(alive)}
    assert subprocess.run(["sh", "-c", AUTOSCALER.health.shell], env=env, capture_output=True).returncode != 0


def test_a_round_that_counted_touches_the_health_file(health_file):
    alive = health_file

    class Sink:
        def current_workers(self):
            return 1

        def apply(self, load, desired):
            pass

    run(ScalingRule(0, 3, 4), lambda: Load(1, 0), Sink(), interval=0, rounds=1, sleep=lambda _: None)
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_CELERY_AUTOSCALER_HEARTBEAT": str(alive)}
    assert subprocess.run(["sh", "-c", AUTOSCALER.health.shell], env=env, capture_output=True).returncode == 0


def read_back_request() -> dict:
    return {
        "Namespace": NAMESPACE,
        "MetricName": DESIRED_METRIC,
        "StartTime": NOW - datetime.timedelta(seconds=READ_BACK_SECONDS),
        "EndTime": NOW,
        "Period": 60,
        "Statistics": ["Maximum"],
    }


def test_after_a_restart_the_first_decision_keeps_the_published_workers_for_the_cool_down():
    """5 workers were published before the restart; the load now needs 1. Before: the first decision published 1 at
    once (every scheduler deploy could scale in at once). Now: 5 until the cool-down has passed."""
    client = cloudwatch()
    with Stubber(client) as stub:
        stub.add_response("get_metric_statistics", {"Datapoints": [{"Maximum": 4.0}, {"Maximum": 5.0}]},
                          read_back_request())  # fmt: skip
        for _ in range(4):
            stub.add_response("put_metric_data", {})
        sink = CloudWatchSink(NAMESPACE, client, clock=lambda: NOW)
        published = []
        original = sink.apply
        sink.apply = lambda load, desired: (published.append(desired), original(load, desired))
        clock = iter([0, 0, 100, 100, 200, 200, 301, 301])
        run(ScalingRule(0, 6, 4, scale_in_cooldown=300), lambda: Load(0, 3), sink, interval=0, rounds=4,
            clock=lambda: next(clock), sleep=lambda _: None)  # fmt: skip
        stub.assert_no_pending_responses()
    assert published == [5, 5, 5, 1]


def test_with_nothing_published_the_first_decision_follows_the_load():
    client = cloudwatch()
    with Stubber(client) as stub:
        stub.add_response("get_metric_statistics", {"Datapoints": []}, read_back_request())
        sink = CloudWatchSink(NAMESPACE, client, clock=lambda: NOW)
        assert sink.current_workers() is None
        assert sink.current_workers() is None  # read back once only: afterwards the last decision stands


def test_an_unreadable_metric_is_logged_and_the_first_decision_follows_the_load(caplog):
    client = cloudwatch()
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_statistics", "AccessDenied")
        assert CloudWatchSink(NAMESPACE, client, clock=lambda: NOW).current_workers() is None
    assert "cannot read back" in caplog.text
