"""FakeLineServer: a FakeLinePlatform served over real HTTP on 127.0.0.1, in a daemon thread."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bot.fakeline.platform import FakeLinePlatform


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeLineServer:
    """`with FakeLineServer(platform) as server: ... server.url ...`

    `stop()` closes the listening socket, so clients then get "connection refused" (werkzeug
    answers every request with `Connection: close`: no kept-alive connection outlives it).
    `start()` again, or a new server built with `port=`, comes back on the same port.
    """

    def __init__(self, platform: FakeLinePlatform, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.platform = platform
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self.port == 0:
            raise RuntimeError("the server has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> FakeLineServer:
        if self._server is not None:
            return self
        server = make_server(self.host, self.port, self.platform.app, threaded=True, request_handler=_QuietHandler)
        self.port = server.server_port  # kept, so that a restart comes back on the same port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakeline:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeLineServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
