"""moto's AWS stand-in server on 127.0.0.1 for the tests: one way to start it and make clients for it, and the SNS
topic subscribed by an SQS queue through which the failure-notification tests read what was announced.

moto and boto3 are imported when a server starts, not when this module is: the collection of every test process
imports it through tests/local/cluster_support.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class MotoServer:
    endpoint: str

    def client(self, service: str, region: str = REGION) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, **CREDENTIALS)


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """moto's threaded server on a port the system picks, stopped on leaving."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoServer(f"http://{host}:{port}")
    finally:
        server.stop()


@dataclass(frozen=True)
class Notifications:
    """A topic in moto's server and the SQS queue subscribed to it, which the tests read."""

    topic_arn: str
    endpoint: str
    sqs: Any
    queue_url: str


def topic_into_queue(moto: MotoServer, topic: str, queue: str, region: str = REGION) -> Notifications:
    sns, sqs = moto.client("sns", region), moto.client("sqs", region)
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Notifications(topic_arn, moto.endpoint, sqs, queue_url)
