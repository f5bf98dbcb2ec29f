"""Stopping ``kasane serve`` when asked (SIGTERM from systemd, Ctrl-C in a terminal).

Closing waitress's listening socket is not enough: its loop runs for as long as any connection
is open, and a browser keeps one alive (the simulator page polls), so a server told to stop went
on serving for minutes until systemd killed it. Instead the signal handler raises ``ServerStop``
in the main thread, inside waitress's loop: waitress catches it (as it does Ctrl-C), lets the
requests in hand finish (5 s at most) and returns. The caller then stops the worker and sender.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kasane")


class ServerStop(KeyboardInterrupt):
    """Raised by the signal handler in the main thread to leave waitress's loop."""


class StopOnSignal:
    def __init__(self, on_stop: Callable[[], Any] = lambda: None) -> None:
        self.on_stop = on_stop  # quick things only (set events): it runs inside the signal handler
        self.requested = threading.Event()
        self._serving = False

    def install(self) -> StopOnSignal:
        signal.signal(signal.SIGTERM, self._handler)
        signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, _frame: Any) -> None:
        if self.requested.is_set():
            log.info("already stopping (signal %d)", signum)
            return
        log.info("stopping (signal %d)", signum)
        self.requested.set()
        self.on_stop()
        if self._serving:
            raise ServerStop()

    def serve(self, server: Any) -> None:
        """Run a waitress server until a signal; return once its requests in hand are answered."""
        self._serving = True
        try:
            if not self.requested.is_set():  # a signal during start-up: do not start serving
                server.run()
        except ServerStop:
            pass  # raised before waitress's own handler was in place
        except (OSError, ValueError):
            pass  # the listening socket was closed under the loop
        finally:
            self._serving = False
        # waitress already did this when it caught the signal; a second call returns at once.
        server.task_dispatcher.shutdown()
        server.close()
