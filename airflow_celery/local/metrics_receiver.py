"""The local stand-in for the CloudWatch agent: a StatsD listener on 127.0.0.1 that keeps what Airflow sends.

On ECS each emitting role's task runs the CloudWatch agent, which listens for StatsD (cluster/metrics.py). Here
every role sends the same packets to this program, which writes what it received to `metrics.json` in the state
dir, for `airflow-celery local status` and the tests. Hand-written because no maintained StatsD server is on
PyPI (the ones there were last released between 2012 and 2020); it only parses the plain StatsD lines Airflow's
`statsd` client writes (`name:value|type[|@rate]`, several per packet separated by newlines) and aggregates as the
agent does per interval, without the intervals: counters add up, gauges keep their last value per sending process
(a gauge's `+n`/`-n` is a change), timings keep count, sum and the last value.

Run as `python -m airflow_celery.local.metrics_receiver 127.0.0.1:PORT PATH`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_celery.cluster.metrics import STATSD_PREFIX

WRITE_EVERY = 1.0
"""Seconds between two writes of the file, when something arrived."""
GAUGE_STALE_AFTER = 60.0
"""A process that sent a gauge longer ago than this no longer counts in its sum (it stopped or restarted)."""
TYPES = {"c": "counter", "g": "gauge", "ms": "timing", "h": "timing", "s": "set"}


@dataclass
class Received:
    """What one metric name received."""

    type: str
    first: float
    last: float
    samples: int = 0
    total: float = 0.0
    """Counters: their sum; timings: the sum of the values."""
    last_value: float = 0.0
    by_source: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Gauges: sender address -> (value, when)."""

    def value(self, now: float) -> float:
        """A counter's total, a gauge's sum over the processes that still send it, a timing's last value."""
        if self.type == "counter":
            return self.total
        if self.type == "gauge":
            live = [value for value, when in self.by_source.values() if now - when <= GAUGE_STALE_AFTER]
            return sum(live)
        return self.last_value

    def as_json(self, now: float) -> dict[str, Any]:
        found = {"type": self.type, "value": self.value(now), "samples": self.samples, "first": self.first,
                 "last": self.last}  # fmt: skip
        if self.type == "timing":
            found["mean"] = self.total / self.samples if self.samples else 0.0
        if self.type == "gauge":
            found["sources"] = len(self.by_source)
        return found


def parse_line(line: str) -> tuple[str, float, str, float, bool] | None:
    """`name:value|type[|@rate][|#tags]` -> (name, value, type, rate, is_delta); None when it is not StatsD."""
    name, sep, rest = line.partition(":")
    if not sep or not name:
        return None
    parts = rest.split("|")
    if len(parts) < 2 or parts[1] not in TYPES:
        return None
    raw, kind = parts[0], TYPES[parts[1]]
    rate = next((float(p[1:]) for p in parts[2:] if p.startswith("@")), 1.0)
    try:
        value = float(raw)
    except ValueError:
        return None
    return name, value, kind, rate, kind == "gauge" and raw[:1] in "+-"


class Store:
    """Every metric received so far."""

    def __init__(self) -> None:
        self.metrics: dict[str, Received] = {}

    def add(self, packet: bytes, source: str, now: float) -> int:
        """Take one UDP packet; returns how many lines were StatsD."""
        taken = 0
        for line in packet.decode("utf-8", errors="replace").splitlines():
            parsed = parse_line(line.strip())
            if parsed is None:
                continue
            name, value, kind, rate, delta = parsed
            entry = self.metrics.setdefault(name, Received(type=kind, first=now, last=now))
            entry.last = now
            entry.samples += 1
            if kind == "counter":
                entry.total += value / (rate or 1.0)
            elif kind == "gauge":
                before = entry.by_source.get(source, (0.0, now))[0]
                entry.by_source[source] = (before + value if delta else value, now)
            elif kind == "timing":
                entry.total += value
            entry.last_value = value
            taken += 1
        return taken

    def snapshot(self, now: float) -> dict[str, Any]:
        return {"written": now, "metrics": {name: m.as_json(now) for name, m in sorted(self.metrics.items())}}


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


def serve(address: tuple[str, int], out: Path, stop_after: float | None = None) -> None:
    """Listen until killed (or for `stop_after` seconds), writing `out` at most every WRITE_EVERY seconds."""
    store = Store()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(address)
        except OSError as error:
            raise SystemExit(
                f"cannot listen for StatsD on UDP {address[0]}:{address[1]} ({error}); "
                "choose another port with `local up --port metrics.statsd=NUMBER`"
            ) from error
        sock.settimeout(WRITE_EVERY)
        print(f"listening for StatsD on udp://{address[0]}:{address[1]}, writing {out}", flush=True)
        write_atomically(out, store.snapshot(time.time()))
        started, written, dirty = time.monotonic(), time.monotonic(), False
        while stop_after is None or time.monotonic() - started < stop_after:
            try:
                packet, sender = sock.recvfrom(65535)
                dirty |= store.add(packet, f"{sender[0]}:{sender[1]}", time.time()) > 0
            except TimeoutError:
                pass
            if dirty and time.monotonic() - written >= WRITE_EVERY:
                write_atomically(out, store.snapshot(time.time()))
                written, dirty = time.monotonic(), False
        write_atomically(out, store.snapshot(time.time()))


def read_metrics(path: Path) -> dict[str, dict[str, Any]]:
    """The metrics the receiver wrote, by their StatsD name (with the prefix); {} before it wrote any."""
    try:
        return json.loads(path.read_text()).get("metrics", {})
    except (OSError, ValueError):
        return {}


HEARTBEAT = f"{STATSD_PREFIX}.scheduler_heartbeat"
OPEN_SLOTS = f"{STATSD_PREFIX}.executor.open_slots"


def _pools(metrics: dict[str, dict[str, Any]], measure: str) -> float | None:
    """A per-pool gauge summed over the pools (`airflow.pool.<measure>.<pool>`)."""
    prefix = f"{STATSD_PREFIX}.pool.{measure}."
    values = [m["value"] for name, m in metrics.items() if name.startswith(prefix)]
    return sum(values) if values else None


def summary(metrics: dict[str, dict[str, Any]], now: float) -> str:
    """The few that matter, for `local status`: queued and running tasks (every pool), the executor's open slots
    and how long ago a scheduler last heartbeated."""
    if not metrics:
        return "Airflow metrics: none received yet"

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    beat = metrics.get(HEARTBEAT)
    heartbeat = f"{now - beat['last']:.0f} s ago" if beat else "never"
    open_slots = metrics.get(OPEN_SLOTS, {}).get("value")
    return (
        f"Airflow metrics: queued {shown(_pools(metrics, 'queued_slots'))}, "
        f"running {shown(_pools(metrics, 'running_slots'))}, open slots {shown(open_slots)}, "
        f"scheduler heartbeat {heartbeat}"
    )


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m airflow_celery.local.metrics_receiver HOST:PORT OUT.json")
    host, _, port = argv[0].rpartition(":")
    serve((host, int(port)), Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
