"""The autoscaler loop, the CloudWatch sink and the workers' scale-in protection, with fakes for AWS and ECS."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import botocore.session
import pytest
from botocore.stub import Stubber

from airflow_celery.autoscaler import protection
from airflow_celery.autoscaler.cloudwatch import CloudWatchSink, metric_data
from airflow_celery.autoscaler.counts import load_from_rows
from airflow_celery.autoscaler.loop import rule_from_env, run
from airflow_celery.cluster import role_environment
from airflow_celery.cluster.scaling import Load, ScalingRule
from tests.cluster_settings import settings_with


def test_rows_become_a_load():
    assert load_from_rows([("queued", 3), ("running", 5)]) == Load(3, 5)
    assert load_from_rows([]) == Load(0, 0)


def test_the_rule_comes_from_the_env_contract():
    settings = settings_with(execution_api_url="x", worker_min_count=0, worker_max_count=3, worker_concurrency=2,
                               scale_in_cooldown=90)  # fmt: skip
    env = role_environment("autoscaler", settings).plain
    assert rule_from_env(env) == ScalingRule(min_workers=0, max_workers=3, concurrency=2, scale_in_cooldown=90)
    with pytest.raises(ValueError, match="AIRFLOW_CELERY_WORKERS_MAX"):
        rule_from_env({**env, "AIRFLOW_CELERY_WORKERS_MAX": "many"})


class ListSink:
    def __init__(self):
        self.applied = []

    def current_workers(self):
        return None

    def apply(self, load, desired):
        self.applied.append((load, desired))


def test_the_loop_survives_a_failing_count_and_keeps_deciding(health_file):
    loads = iter([Load(0, 0), RuntimeError("database restarting"), Load(5, 0)])

    def count():
        value = next(loads)
        if isinstance(value, Exception):
            raise value
        return value

    sink = ListSink()
    clock = iter(range(100))
    run(ScalingRule(0, 3, 2), count, sink, interval=1, rounds=3, clock=lambda: next(clock), sleep=lambda _: None)
    assert [desired for _, desired in sink.applied] == [0, 3]
    assert health_file.exists()


def test_cloudwatch_gets_the_counts_and_the_decision_in_one_call():
    client = botocore.session.get_session().create_client("cloudwatch", region_name="us-east-1",
                                                          aws_access_key_id="x", aws_secret_access_key="y")  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response(
            "put_metric_data",
            {},
            {"Namespace": "AirflowCelery/airflow", "MetricData": metric_data(Load(4, 2), 3)},
        )
        CloudWatchSink("AirflowCelery/airflow", client).apply(Load(4, 2), 3)
        stub.assert_no_pending_responses()
    names = {d["MetricName"]: d["Value"] for d in metric_data(Load(4, 2), 3)}
    assert names == {"QueuedTasks": 4.0, "RunningTasks": 2.0, "DesiredWorkers": 3.0}


# --- scale-in protection -------------------------------------------------------------------------------------


class FakeAgent(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    received: list[dict] = []

    def do_PUT(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeAgent.received.append({"path": self.path, **body})
        status, answer = FakeAgent.answers.pop(0) if FakeAgent.answers else (200, {"protection": {}})
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def agent():
    FakeAgent.answers, FakeAgent.received = [], []
    server = HTTPServer(("127.0.0.1", 0), FakeAgent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/abc"
    server.shutdown()


def test_put_protection_sends_the_documented_body(agent):
    assert protection.put_protection(agent, True) is True
    assert protection.put_protection(agent, False) is True
    assert FakeAgent.received == [
        {"path": "/api/abc/task-protection/v1/state", "ProtectionEnabled": True, "ExpiresInMinutes": 10},
        {"path": "/api/abc/task-protection/v1/state", "ProtectionEnabled": False},
    ]


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"failure": {"Reason": "TASK_NOT_VALID"}}),  # ECS refused: the agent still answers 200
        (400, {"error": {"Code": "AccessDeniedException"}}),
    ],
)
def test_a_refusal_is_logged_never_raised(agent, answer, caplog):
    FakeAgent.answers = [answer]
    assert protection.put_protection(agent, True) is False
    assert "refused" in caplog.text or "failed" in caplog.text


def test_an_unreachable_agent_is_logged_never_raised(caplog):
    assert protection.put_protection("http://127.0.0.1:9/api/x", True, timeout=1) is False
    assert "failed" in caplog.text
