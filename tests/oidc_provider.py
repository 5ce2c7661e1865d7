"""A real OpenID Connect provider process for the tests (oidc-provider-mock from PyPI)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

START_DEADLINE_SECONDS = 30


def free_port() -> int:
    """Return a local port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_provider(port: int) -> subprocess.Popen:
    """Start the provider on a port and wait until it answers its discovery document."""
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--require-nonce"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        try:
            if requests.get(url, timeout=2).ok:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the OpenID provider (oidc-provider-mock) did not start")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    """Run the provider for the session; yield its issuer URL."""
    port = free_port()
    process = start_provider(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def set_user(issuer: str, subject: str, **claims: object) -> None:
    """Tell the provider who a subject is (their email, name and groups)."""
    answer = requests.put(f"{issuer}/users/{subject}", json=claims, timeout=5)
    answer.raise_for_status()


def approve(authorize_url: str, subject: str) -> str:
    """Sign in at the provider's page as a subject; return the app's callback path and query."""
    answer = requests.post(authorize_url, data={"sub": subject}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code in (302, 303), answer.text[:500]
    back = urlsplit(answer.headers["location"])
    return f"{back.path}?{back.query}"
