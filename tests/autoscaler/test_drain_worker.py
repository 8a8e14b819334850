"""The drain protocol inside the worker (autoscaler/protection.py) and the ECS view it reads (ecs_service.py),
with a fake consumer, a fake agent and botocore's Stubber (which checks requests and responses against the
ecs service model)."""

from __future__ import annotations

import inspect
import json

import botocore.session
import pytest
from botocore.stub import Stubber

from airflow_celery.autoscaler import ecs_service, protection

# --- Protection: short expiry, renewed, unknown after a failed PUT ---------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_protection_is_renewed_only_when_due():
    puts, clock = [], Clock()
    p = protection.Protection(lambda on: puts.append(on) or True, clock, renew_after=100)
    p.want(True)
    p.want(True)
    clock.now = 99
    p.want(True)
    assert puts == [True]
    clock.now = 100
    p.want(True)
    assert puts == [True, True]
    p.want(False)
    p.want(False)
    assert puts == [True, True, False]


def test_a_protect_that_timed_out_is_undone_on_the_next_idle_step():
    """The PUT may have been applied although it failed: the state is unknown, so an idle worker sends the
    unprotect at once (before: nothing was sent, and the task stayed protected for the PUT's expiry)."""
    answers, puts = iter([False, True]), []
    p = protection.Protection(lambda on: puts.append(on) or next(answers), Clock())
    p.want(True)
    assert p.state is None
    p.want(False)
    assert puts == [True, False] and p.state is False


def test_a_restarted_worker_does_not_assume_it_is_unprotected():
    puts = []
    protection.Protection(lambda on: puts.append(on) or True, Clock()).want(False)
    assert puts == [False]


def test_the_expiry_is_short_and_renewal_leaves_room_for_failures():
    assert protection.EXPIRES_MINUTES * 60 >= 4 * protection.RENEW_SECONDS
    assert 1 <= protection.EXPIRES_MINUTES <= 15


# --- DrainingWorker with a fake consumer -----------------------------------------------------------------------


class FakeQueues:
    """A consumer whose remote-control commands take effect on the next look, as in Celery's event loop."""

    node = "celery@w1"
    queues = ["default"]

    def __init__(self):
        self.state, self.pending, self.sent = True, None, []

    def consuming(self):
        if self.pending is not None:
            self.state, self.pending = self.pending, None
        return self.state

    def switch(self, consume):
        self.sent.append("add" if consume else "cancel")
        self.pending = consume


def make(holds, going, protected_puts, clock=None, cap=1000.0):
    queues = FakeQueues()
    clock = clock or Clock()
    prot = protection.Protection(lambda on: protected_puts.append(on) or True, clock)
    worker = protection.DrainingWorker(lambda: holds[0], lambda _: going[0], queues, prot, clock=clock, cap=cap)
    return worker, queues


def test_serving_is_protected_and_consuming():
    puts = []
    worker, queues = make([0], [False], puts)
    step = worker.step()
    assert step.consume and puts == [True] and queues.sent == []


def test_going_stops_consuming_before_it_unprotects_then_waits_for_its_tasks():
    holds, going, puts = [2], [False], []
    worker, queues = make(holds, going, puts)
    worker.step()
    going[0] = True
    worker.step()
    assert queues.sent == ["cancel"] and puts == [True]  # protection untouched while the cancel is under way
    worker.step()
    assert puts == [True]  # still holds 2: protected (renewal not yet due)
    holds[0] = 0
    step = worker.step()
    assert step.release and puts == [True, False]
    assert queues.sent == ["cancel"]


def test_an_idle_worker_asked_to_go_unprotects_only_after_its_consumer_dropped_the_queue():
    puts, going = [], [True]
    worker, queues = make([0], going, puts)
    first = worker.step()
    assert queues.sent == ["cancel"] and False not in puts and not first.consume
    worker.step()
    assert puts[-1] is False


def test_the_local_status_says_release_only_once_the_consumer_dropped_the_queue():
    reports = []
    worker = protection.DrainingWorker(lambda: 0, lambda _: True, FakeQueues(), report=reports.append)
    worker.step()
    worker.step()
    assert [(r["consuming"], r["release"]) for r in reports] == [(True, False), (False, True)]


def test_a_task_received_before_it_counts_as_reserved_keeps_the_worker_protected():
    """task_received fires before task_reserved (celery/worker/strategy.py): the mark counts as one task."""
    puts, going = [], [True]
    worker, _ = make([0], going, puts)
    worker.step()  # cancel sent
    worker.task_received()
    step = worker.step()
    assert not step.release and False not in puts


def test_celery_sends_task_received_before_it_reserves_the_task():
    from celery.worker import strategy

    source = inspect.getsource(strategy.default)
    assert source.index("signals.task_received.send(") < source.index("task_reserved(req)")


def test_a_worker_wanted_again_is_protected_then_consumes_again():
    holds, going, puts = [1], [True], []
    worker, queues = make(holds, going, puts)
    worker.step()
    worker.step()
    going[0] = False
    step = worker.step()
    assert step.consume and queues.sent == ["cancel", "add"]
    assert worker.queues.consuming() is True


def test_the_cap_releases_a_worker_whose_task_runs_too_long():
    holds, going, puts, clock = [1], [True], [], Clock()
    worker, _ = make(holds, going, puts, clock=clock, cap=50)
    worker.step()
    clock.now = 49
    assert not worker.step().release
    clock.now = 50
    assert worker.step().release and puts[-1] is False


def test_unknown_must_go_keeps_the_last_answer():
    answers = iter([True, None, None])
    worker = protection.DrainingWorker(lambda: 1, lambda _: next(answers), FakeQueues())
    worker.step()
    worker.step()
    assert worker.going is True


def test_local_status_file_and_go_file(tmp_path):
    path = tmp_path / "drain" / "worker-2"
    must_go = protection.LocalMustGo(path)
    assert must_go(0) is False
    path.parent.mkdir()
    path.with_suffix(".go").touch()
    assert must_go(0) is True
    protection.status_writer(path)({"holds": 3, "release": False})
    written = json.loads(path.with_suffix(".json").read_text())
    assert written["holds"] == 3 and written["at"] > 0


def test_nothing_starts_without_ecs_or_a_drain_path():
    class Consumer:
        hostname = "celery@x"
        task_consumer = type("T", (), {"queues": []})()

    assert protection.build(Consumer(), env={}) is None


# --- the ECS view: shapes checked by botocore's Stubber ---------------------------------------------------------

CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/air"
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/air/abc"
TASK = ecs_service.OwnTask(cluster=CLUSTER, task_arn=TASK_ARN, region="eu-west-1")
OWN, NEW = "ecs-svc/1111", "ecs-svc/2222"


def ecs_client():
    return botocore.session.get_session().create_client(
        "ecs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def deployment(id_, status, desired, running):
    return {"id": id_, "status": status, "desiredCount": desired, "runningCount": running}


def stub_task(stubber):
    stubber.add_response(
        "describe_tasks",
        {"tasks": [{"taskArn": TASK.task_arn, "group": "service:air-worker-service-1a2b3c4", "startedBy": OWN}]},
        {"cluster": CLUSTER, "tasks": [TASK.task_arn]},
    )


def stub_service(stubber, deployments):
    stubber.add_response(
        "describe_services",
        {"services": [{"serviceName": "air-worker-service-1a2b3c4", "deployments": deployments}]},
        {"cluster": CLUSTER, "services": ["air-worker-service-1a2b3c4"]},
    )


@pytest.mark.parametrize(
    ("deployments", "holds", "peers", "expected"),
    [
        ([deployment(OWN, "PRIMARY", 2, 2)], 3, {}, False),  # steady: serve
        ([deployment(NEW, "PRIMARY", 2, 1), deployment(OWN, "ACTIVE", 2, 2)], 3, {}, False),  # new ones starting
        ([deployment(NEW, "PRIMARY", 2, 2), deployment(OWN, "ACTIVE", 2, 2)], 3, {}, True),  # superseded
        ([deployment(OWN, "PRIMARY", 1, 2)], 0, {"celery@me": 0, "celery@other": 2}, True),  # scale-in, idle: goes
        ([deployment(OWN, "PRIMARY", 1, 2)], 0, {}, False),  # cannot see the others: stays this round
        ([deployment(OWN, "PRIMARY", 1, 2)], 3, {"celery@me": 3, "celery@other": 1}, False),  # the other goes
        ([deployment(OWN, "PRIMARY", 1, 2)], 1, {"celery@me": 1, "celery@other": 3}, True),  # least busy goes
        # a circuit-breaker rollback makes the old deployment PRIMARY again: its workers serve on
        ([deployment(OWN, "PRIMARY", 2, 2), deployment(NEW, "ACTIVE", 2, 0)], 3, {}, False),
    ],
)
def test_ecs_must_go(deployments, holds, peers, expected):
    client = ecs_client()
    with Stubber(client) as stubber:
        stub_task(stubber)
        stub_service(stubber, deployments)
        must_go = protection.EcsMustGo(client, TASK, lambda: peers, "celery@me")
        assert must_go(holds) is expected
        stubber.assert_no_pending_responses()


def test_ecs_describe_services_is_called_at_most_every_view_interval():
    client, clock = ecs_client(), Clock()
    with Stubber(client) as stubber:
        stub_task(stubber)
        stub_service(stubber, [deployment(OWN, "PRIMARY", 2, 2)])
        stub_service(stubber, [deployment(NEW, "PRIMARY", 2, 2)])
        must_go = protection.EcsMustGo(client, TASK, dict, "celery@me", clock=clock)
        assert must_go(1) is False
        clock.now = ecs_service.VIEW_SECONDS - 1
        assert must_go(1) is False
        clock.now = ecs_service.VIEW_SECONDS
        assert must_go(1) is True


def test_an_ecs_error_is_unknown_not_a_decision(caplog):
    client = ecs_client()
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_tasks", "AccessDeniedException")
        assert protection.EcsMustGo(client, TASK, dict, "celery@me")(0) is None
    assert "cannot tell" in caplog.text


def test_a_task_not_started_by_a_service_never_has_to_go():
    client = ecs_client()
    with Stubber(client) as stubber:
        stubber.add_response("describe_tasks", {"tasks": [{"taskArn": TASK.task_arn, "group": "family:x"}]})
        assert protection.EcsMustGo(client, TASK, dict, "celery@me")(0) is False


def test_own_task_reads_the_metadata_endpoint(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Cluster": CLUSTER, "TaskARN": TASK.task_arn, "Family": "air-worker", "Revision": "7"})
            self.send_response(200 if self.path == "/v4/abc/task" else 404)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert ecs_service.own_task(f"http://127.0.0.1:{server.server_address[1]}/v4/abc") == TASK
    finally:
        server.shutdown()


def test_celery_cancel_consumer_deselects_the_queue_so_a_consumer_restart_does_not_resubscribe():
    """QueueSwitch relies on Consumer.cancel_task_queue (celery/worker/consumer/consumer.py): it deselects the
    queue from app.amqp.queues (a connection reset rebuilds the task consumer from that selection) and cancels
    it on the kombu consumer, whose `queues` then no longer lists it (kombu/messaging.py cancel_by_queue)."""
    from celery.worker.consumer.consumer import Consumer
    from kombu.messaging import Consumer as KombuConsumer

    cancel = inspect.getsource(Consumer.cancel_task_queue)
    assert "self.app.amqp.queues.deselect(queue)" in cancel
    assert "self.task_consumer.cancel_by_queue(queue)" in cancel
    assert "self._queues.pop(qname, None)" in inspect.getsource(KombuConsumer.cancel_by_queue)
    # add_consumer selects only a queue it does not know yet: QueueSwitch selects a known one again itself.
    add = inspect.getsource(Consumer.add_task_queue)
    assert "if queue in queues:\n            q = queues[queue]\n        else:" in add and "cset.consume()" in add


def test_resuming_selects_the_queue_again_for_the_next_consumer_restart():
    from celery import Celery

    app = Celery("t", broker="memory://")
    app.amqp.queues.select(["default"])
    app.amqp.queues.deselect("default")  # what cancel_consumer did
    assert "default" not in app.amqp.queues.consume_from

    class Consumer:
        hostname = "celery@x"
        task_consumer = type("T", (), {"queues": [app.amqp.queues["default"]]})()

    Consumer.app = type("A", (), {"amqp": app.amqp, "control": type("C", (), {"add_consumer": lambda *a, **k: []})()})()
    protection.QueueSwitch(Consumer()).switch(True)
    assert "default" in app.amqp.queues.consume_from
