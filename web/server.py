"""How `portfolio serve` guards its connections: read time-outs and a cap per worker.

uvicorn closes an idle keep-alive connection and can cap open connections
(`limit_concurrency`, answered 503 beyond it), but it waits forever for a request's headers
and body. A client that never finishes a request (slow or stalled, on purpose or not) would
hold its connection, and a place under the cap, for good: these protocols close a connection
whose headers do not arrive in time, and BodyReadTimeout answers 408 to a body that stalls.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from portfolio.cache import release_garbage
from portfolio.settings import Settings

# Read by the protocols in each worker process (uvicorn builds them, not our code).
HEADER_TIMEOUT_ENV = "PORTFOLIO_HEADER_TIMEOUT_SECONDS"
# A request this long built something large (a fast page allocates little and trims nothing).
RELEASE_AFTER_SECONDS = 0.25


def _header_timeout() -> float:
    """Return the seconds a client has to send a request's headers."""
    return float(os.environ.get(HEADER_TIMEOUT_ENV) or Settings().header_timeout_seconds)


class _HeaderDeadline:
    """Close a connection whose request headers have not all arrived within the time-out."""

    _header_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_timer = self.loop.call_later(_header_timeout(), self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _between_requests(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return not self.transport.is_closing() and (cycle is None or cycle.response_complete)

    def _headers_too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


class GuardedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request on a kept-alive connection gets its own deadline (unless it was
        # pipelined and has already begun).
        if self._between_requests():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


class GuardedH11Protocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers were read
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._between_requests():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


def guarded_protocol() -> type[asyncio.Protocol]:
    """Return the guarded protocol for the HTTP parser uvicorn would pick ("auto")."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
        return GuardedH11Protocol
    return GuardedHttpToolsProtocol


def uvicorn_options(settings: Settings, **given: Any) -> dict[str, Any]:
    """Return uvicorn's options for the settings, options given on the command line first."""
    chosen = {k: v for k, v in given.items() if v is not None}
    os.environ[HEADER_TIMEOUT_ENV] = str(chosen.pop("header_timeout",
                                                    settings.header_timeout_seconds))
    return {
        "host": chosen.get("host", settings.host),
        "port": chosen.get("port", settings.port),
        "workers": chosen.get("workers", settings.workers),
        "http": guarded_protocol(),
        "timeout_keep_alive": chosen.get("keep_alive", settings.keep_alive_seconds),
        # Open connections (and requests in flight) per worker; uvicorn answers 503 beyond.
        # It counts the asking connection too: N + 1 lets N connections be served.
        "limit_concurrency": chosen.get("max_connections", settings.max_connections) + 1,
    }


class BodyReadTimeout:
    """Answer 408 when a request body stalls: no part of it for the time-out."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        stalled = False

        async def timed_receive() -> Message:
            nonlocal body_done, stalled
            if body_done:
                # After the body only a disconnect can come, maybe long after (a stream).
                return await receive()
            try:
                with anyio.fail_after(self.seconds):
                    message = await receive()
            except TimeoutError:
                # To the app the client has gone (whatever it answers, the client gets 408).
                stalled = body_done = True
                return {"type": "http.disconnect"}
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def guarded_send(message: Message) -> None:
            if not stalled:
                await send(message)
            elif message["type"] == "http.response.start":
                await send({"type": "http.response.start", "status": 408,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"connection", b"close"),
                                        (b"content-length", str(len(STALLED)).encode())]})
                await send({"type": "http.response.body", "body": STALLED})

        await self.app(scope, timed_receive, guarded_send)


STALLED = b'{"detail": "the request body did not arrive in time; nothing was done"}'


class ReleaseFreedMemory:
    """After a request that ran long, collect its garbage and hand the memory back.

    A long request is a large one (a graph, an export, the what-if sliders' first move at
    100,000 projects): glibc kept the 40-130 MB its temporaries had freed resident in the
    worker (measured: README, "A web worker's memory"). A short request trims nothing.
    """

    def __init__(self, app: ASGIApp, *, after_seconds: float = RELEASE_AFTER_SECONDS) -> None:
        self.app = app
        self.after_seconds = after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        await self.app(scope, receive, send)
        # The answer has been sent, its body too: what the request built is garbage by now.
        if time.perf_counter() - started >= self.after_seconds:
            await anyio.to_thread.run_sync(release_garbage)
