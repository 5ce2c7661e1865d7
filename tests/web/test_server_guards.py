"""`portfolio serve` closes connections whose requests never finish, and caps open ones."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(port: int) -> socket.socket:
    """Open a connection to the server, with a generous safety time-out on reads."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Read until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def server(database_url: str) -> Iterator[int]:
    """Run `portfolio serve` with short read time-outs and a cap of 3 connections."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("portfolio")), "serve", "--port", str(port),
               "--header-timeout", "0.5", "--body-timeout", "0.5", "--max-connections", "3"]
    env = {**os.environ, "PORTFOLIO_DATABASE_URL": database_url,
           "PORTFOLIO_ENVIRONMENT": "test", "PORTFOLIO_SECRET_KEY": "test-secret"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the server did not start"
            try:
                with connect(port) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 b"Connection: close\r\n\r\n")
                    if b" 200 " in read_all(sock):
                        break
            except OSError:
                pass
            # A server that answers, but never 200 (a refused Host, say), fails rather than hangs.
            assert time.monotonic() < deadline, "the server never answered 200"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_headers_that_never_finish_close_the_connection(server: int) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the blank line never comes
        assert read_all(sock) == b""  # closed by the server, not by this test's time-out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_body_that_stalls_is_answered_408(server: int) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/"
                     b"x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive in time" in answer


@pytest.mark.parametrize("backend", ["sqlite"])
def test_connections_over_the_cap_are_refused_with_503(server: int) -> None:
    idle = [connect(server) for _ in range(3)]
    try:
        for sock in idle:  # each is accepted and counted before the next request
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        with connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_all(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in idle:
            sock.close()
