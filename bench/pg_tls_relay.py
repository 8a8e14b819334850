"""The local PostgreSQL's TLS relay, per round trip: `python -m bench.pg_tls_relay [--round-trips 20000] [--repeat 3]`.

Every query of every role of a local cluster goes through `airflow_celery.local.pg_tls` (RDS's TLS, which the
embedded PostgreSQL lacks). This runs the relay as `local up` does, on uvloop, and the same `serve()` on asyncio's
own loop, alternately, each in front of an echo server on a unix socket (standing in for PostgreSQL: every message
comes back whole), and times a TLS client's round trips through it:

- small: a 14-byte message and its echo, the size of `SELECT 1` and its answer;
- 8 KiB: a page of rows each way.

It prints the microseconds per round trip (client wall time) and the relay process's CPU per round trip (user +
system, from the kernel). Self-contained: it imports only airflow_celery. The figures go into the README with
their date.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import socketserver
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from airflow_celery.local.pg_tls import SSL_REQUEST
from airflow_celery.local.ports import free_ports
from airflow_celery.local.tls import ensure_server_tls

SMALL = b"Q" + struct.pack("!I", 13) + b"SELECT 1;\0"
PAGE = b"D" * 8192
ON_ASYNCIO = (
    "import asyncio, sys\n"
    "from pathlib import Path\n"
    "from airflow_celery.local import pg_tls\n"
    "host, _, port = sys.argv[1].rpartition(':')\n"
    "context = pg_tls.server_context(Path(sys.argv[3]), Path(sys.argv[4]))\n"
    "asyncio.run(pg_tls.serve(host, int(port), sys.argv[2], context))\n"
)
SHIPPED = "uvloop (shipped)"
LOOPS = {
    SHIPPED: ["-m", "airflow_celery.local.pg_tls"],
    "asyncio": ["-c", ON_ASYNCIO],
}
START_TIMEOUT = 20.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _UnixStandIn(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128
    """socketserver's backlog of 5 makes a burst of connections fail on a unix socket (asyncio reads EAGAIN from a
    full backlog as "in progress", and the socket's first read then fails with EINVAL); PostgreSQL's is larger."""


@contextmanager
def stand_in(path: Path, handler: type[socketserver.BaseRequestHandler]) -> Iterator[Path]:
    """`handler` serving the unix socket `path`, where the relay expects PostgreSQL, in a thread: yields `path`."""
    server = _UnixStandIn(str(path), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def echo_server(folder: Path) -> contextlib.AbstractContextManager[Path]:
    return stand_in(folder / ".s.PGSQL.5432", _Echo)


@contextmanager
def running_relay(loop: str, pg_conf_dir: Path, upstream: Path) -> Iterator[tuple[int, psutil.Process]]:
    """The relay on `loop`, with the certificate made into `pg_conf_dir`, on a free port of 127.0.0.1 in front of
    `upstream`: (port, its process). tests/local/relay_support.py runs the shipped one this way too."""
    tls = ensure_server_tls(pg_conf_dir, "127.0.0.1")
    (port,) = free_ports(1)
    argv = [f"127.0.0.1:{port}", str(upstream), str(tls.cert_file), str(tls.key_file)]
    process = subprocess.Popen([sys.executable, *LOOPS[loop], *argv], start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the relay on {loop} did not start in {START_TIMEOUT:.0f} s") from None
                time.sleep(0.05)
        yield port, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def tls_client(port: int) -> ssl.SSLSocket:
    """A client as libpq's `sslmode=require` connects: SSLRequest, `S`, then TLS."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(struct.pack("!II", 8, SSL_REQUEST))
    if sock.recv(1) != b"S":
        raise SystemExit("the relay did not accept the SSLRequest")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(sock)


def round_trips(client: ssl.SSLSocket, message: bytes, count: int) -> float:
    """Seconds for `count` round trips of `message`; each echo is read whole and checked."""
    started = time.perf_counter()
    for _ in range(count):
        client.sendall(message)
        echoed = b""
        while len(echoed) < len(message):
            chunk = client.recv(65536)
            if not chunk:
                raise SystemExit("the relay closed the connection")
            echoed += chunk
        if echoed != message:
            raise SystemExit("the echo came back altered")
    return time.perf_counter() - started


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(loop: str, folder: Path, upstream: Path, count: int) -> dict[str, float]:
    """One relay on `loop`: microseconds per round trip, wall and the relay's CPU, for each message size."""
    figures: dict[str, float] = {}
    with running_relay(loop, folder / "pgconf", upstream) as (port, process), tls_client(port) as client:
        round_trips(client, SMALL, 100)  # warm: the first round trips import and allocate
        for name, message, times in (("small", SMALL, count), ("8k", PAGE, max(1, count // 4))):
            cpu_before = _cpu(process)
            wall = round_trips(client, message, times)
            figures[f"{name}_wall_us"] = wall / times * 1e6
            figures[f"{name}_relay_cpu_us"] = (_cpu(process) - cpu_before) / times * 1e6
    return figures


def bench(count: int, repeat: int) -> dict[str, dict[str, float]]:
    """Each loop `repeat` times, alternately; the medians."""
    runs: dict[str, list[dict[str, float]]] = {loop: [] for loop in LOOPS}
    with tempfile.TemporaryDirectory(prefix="pgtls-") as folder, echo_server(Path(folder)) as upstream:
        for _ in range(repeat):
            for loop in LOOPS:
                runs[loop].append(measure(loop, Path(folder), upstream, count))
    return {
        loop: {key: statistics.median(run[key] for run in results) for key in results[0]}
        for loop, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=20000, help="small round trips per run (8 KiB: a quarter)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = bench(args.round_trips, args.repeat)
    print(f"{'loop':<18} {'small: us':>10} {'relay CPU us':>13} {'8 KiB: us':>10} {'relay CPU us':>13}")
    for loop, figures in result.items():
        print(
            f"{loop:<18} {figures['small_wall_us']:>10.0f} {figures['small_relay_cpu_us']:>13.0f}"
            f" {figures['8k_wall_us']:>10.0f} {figures['8k_relay_cpu_us']:>13.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
