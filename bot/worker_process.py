"""Child processes: the worker beside ``kasane serve``, the sender beside the worker.

Why processes and not threads: handling events and talking to LINE is CPU work in Python,
and under one interpreter lock it would make the web threads wait, so LINE's webhooks would
be answered late exactly during a burst. In processes of their own, at a lower CPU priority
(``[worker] nice``), the worker and its sender take the CPU the web process leaves, and the
two of them use two cores where there are two.

A parent forks its child before it starts any thread (a fork is instant and shares the
imported code). If the child dies, a fresh ``kasane worker`` process replaces it. A child
dies with its parent (Linux's parent-death signal, and a watch on the parent id elsewhere),
so a killed server never leaves a worker or a sender behind.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("kasane")

# What every process of ``kasane serve`` builds alike, built once before the fork so that the pages
# stay shared instead of being built again in each (measured: about 8 MB less per child).
PRELOADED_MODULES = ("handlers", "jobs", "bot.scheduler", "bot.web.dashboard", "bot.web.calendar")
PR_SET_PDEATHSIG = 1
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
STOP_TIMEOUT = 15.0


def preload() -> None:
    """Import what the processes will import, configure the ORM's mappers (done on first use
    otherwise), and let the crypto library set up its tables (sealing inbox events)."""
    from sqlalchemy.orm import configure_mappers

    from bot.store.sealing import Sealer

    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    configure_mappers()
    Sealer("preload").seal("preload", b"")


def in_forked_child(work: Callable[[], None], failure: type[Exception]) -> None:
    """Run ``work`` in a forked child and wait for it, so that what it imports never loads here.

    ``kasane serve`` and ``kasane worker`` check or migrate the schema this way: Alembic, Mako and
    Pygments (9 MB) would otherwise stay in the server and in every process forked from it, for
    nothing. A ``failure`` raised by ``work`` is raised again here with its message.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        os.close(read)
        code = 0
        try:
            work()
        except failure as exc:
            os.write(write, str(exc).encode("utf-8", "replace"))
            code = 2
        except BaseException:
            log.exception("stopped by an error")
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 2:
        raise failure(message)
    if code != 0:
        raise failure(f"the database check stopped with status {code} (see the log above)")


def lower_priority(nice: int) -> None:
    """Raise this process's niceness to ``nice`` (never lower it: that needs privileges)."""
    current = os.nice(0)
    if nice > current:
        os.nice(nice - current)


def die_with_parent(parent: int, stop: Callable[[], None]) -> None:
    """Stop when ``parent`` is gone: at once on Linux (SIGKILL from the kernel), else within a second."""
    if sys.platform.startswith("linux"):
        try:  # the C library already loaded in this process (find_library would start a subprocess)
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("the parent process (pid %d) is gone; stopping", parent)
        stop()

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class ChildProcess:
    """A child process (the worker, the sender): started, watched, restarted, stopped."""

    def __init__(self, name: str, run_child: Callable[[int], int], restart_argv: list[str]) -> None:
        self.name = name
        self.run_child = run_child  # runs in the forked child, given the parent's pid
        self.restart_argv = restart_argv  # a fresh `kasane worker …` for restarts
        self.pid: int | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Fork the first worker. Call before any thread exists in this process."""
        parent = os.getpid()
        preload()
        # Everything imported so far lives as long as the process: out of the collector's reach,
        # its pages stay shared with the child instead of being copied as the collector touches them.
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the child: never return into the web server's code
            code = 1
            try:
                code = self.run_child(parent)
            except BaseException:
                log.exception("%s: stopped by an error", self.name)
            finally:
                logging.shutdown()
                os._exit(code)
        self.pid = pid
        log.info("%s started (pid %d)", self.name, pid)

    def watch(self) -> None:
        """Restart the child whenever it exits while the parent runs (in a thread of its own)."""
        threading.Thread(target=self._watch, daemon=True, name=f"{self.name}-watch").start()

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            status = self._wait_child()
            if self._stopping.is_set():
                return
            failures = 0 if time.monotonic() - started > 60 else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            log.error("%s exited (%s); starting a new one in %.0fs", self.name, status, delay)
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._popen = subprocess.Popen([*self.restart_argv, "--parent", str(os.getpid())])
                self.pid = self._popen.pid

    def _wait_child(self) -> str:
        if self._popen is not None:
            return f"exit status {self._popen.wait()}"
        if self.pid is None:
            return "not started"
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "already reaped"
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"

    def stop(self) -> None:
        """Ask the child to finish what it is doing (SIGTERM); wait, then SIGKILL."""
        with self._lock:
            self._stopping.set()
            pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)
        log.warning("%s (pid %d) did not stop in %.0fs; killing it", self.name, pid, STOP_TIMEOUT)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # reaped by the watch thread
    return reaped == 0
