"""Running the sandbox under uvicorn, including the two faults that need the server itself.

* ``drop`` needs the connection's transport to abort it: :class:`TrackingHttpToolsProtocol`
  (or the h11 variant when httptools is missing) records every live transport by address.
* ``refuse`` needs the listener gone for a while: :class:`SandboxServer` owns the listening
  socket and the run loop, stops listening, lets in-flight requests finish, waits, and listens
  again on the same port with the same :class:`~airflow_provider_fullsms.sandbox.state.SandboxState`.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import TYPE_CHECKING, Any, cast

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from airflow_provider_fullsms.sandbox.app import build_asgi

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_fullsms.sandbox.state import SandboxState

#: Live connections by ``(server address, client address)``, as in the ASGI scope.
TRANSPORTS: dict[tuple[Any, Any], asyncio.Transport] = {}


def _key(protocol: Any) -> tuple[Any, Any]:
    return (tuple(protocol.server or ()), tuple(protocol.client or ()))


class _TracksTransport:
    """Mixed into a uvicorn HTTP protocol: records its transport so a ``drop`` fault can abort it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        # uvicorn serves HTTP over TCP: the transport is a full asyncio.Transport.
        TRANSPORTS[_key(self)] = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        TRANSPORTS.pop(_key(self), None)
        super().connection_lost(exc)  # type: ignore[misc]


class TrackingH11Protocol(_TracksTransport, H11Protocol):
    """uvicorn's h11 protocol, recording its transport so a ``drop`` fault can abort it."""


def http_protocol() -> type[asyncio.Protocol]:
    """The fastest available HTTP protocol (httptools, else h11), with transport tracking."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional in uvicorn
        return TrackingH11Protocol

    class TrackingHttpToolsProtocol(_TracksTransport, HttpToolsProtocol):
        """uvicorn's httptools protocol, recording its transport so a ``drop`` fault can abort it."""

    return TrackingHttpToolsProtocol


class SandboxServer:
    """Serve a sandbox state on ``host:port`` until the process is stopped.

    :param state: the sandbox world; survives ``refuse`` restarts.
    :param host: address to listen on.
    :param port: port to listen on; 0 picks a free one (then kept across restarts).
    :param access_log: log every request (off by default: it costs throughput).
    """

    def __init__(
        self, state: SandboxState, *, host: str = "127.0.0.1", port: int = 8025, access_log: bool = False
    ):
        self.state = state
        self.host = host
        self.port = port
        self.access_log = access_log
        self.app = build_asgi(state, self, TRANSPORTS)
        self._protocol = http_protocol()
        self._server: uvicorn.Server | None = None
        self._refuse_for: float | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _listen(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        # SO_REUSEADDR lets the listener come back on the same port after a refuse window even
        # while the connections it closed sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        return sock

    def refuse(self, seconds: float) -> None:
        """Stop listening now, finish in-flight requests, and listen again ``seconds`` later.

        :param seconds: how long new connections are refused.
        """
        server = self._server
        if server is None or self._refuse_for is not None:
            return
        self._refuse_for = seconds
        # Close the listener synchronously, so a client acting on the answer that armed the
        # window already finds it shut; uvicorn's graceful shutdown does the rest.
        for listener in getattr(server, "servers", []):
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        server.should_exit = True

    async def serve(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Listen, call ``on_ready`` once, and serve (through any number of refuse windows).

        :param on_ready: called once the port is bound and listening.
        """
        sock = self._listen()
        if on_ready is not None:
            on_ready(self)
        while True:
            config = uvicorn.Config(
                self.app,
                http=self._protocol,
                lifespan="off",
                log_level="warning",
                access_log=self.access_log,
                timeout_graceful_shutdown=10,
                backlog=2048,
            )
            self._server = uvicorn.Server(config)
            await self._server.serve(sockets=[sock])
            seconds = self._refuse_for
            if seconds is None:
                return
            await asyncio.sleep(seconds)
            sock = self._listen()
            self._refuse_for = None

    def run(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Run :meth:`serve` on a new event loop (uvloop when installed)."""
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:  # uvloop is optional; asyncio's loop works, a bit slower
            pass
        if sys.platform == "win32":
            loop_factory = None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(self.serve(on_ready))
