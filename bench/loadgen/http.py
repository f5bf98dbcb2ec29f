"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for local servers only.

Why not aiohttp or httpx: on a 2-core machine the load generator competes with the servers it
measures. This client costs about half of aiohttp's CPU per request (measured: 0.11 vs 0.25 ms
against the floor app), needs nothing outside the standard library, and does only what the
benchmark needs: plain http, Content-Length or chunked answers, keep-alive.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status


class HttpClient:
    """``per_host`` caps the connections to one server: waitress accepts 100 at most
    (connection_limit) and kept-alive idle connections count, so a client that opened more would
    leave requests unanswered in the listen backlog. Requests beyond it wait here, and their
    latency (measured from their due time) shows it."""

    def __init__(self, timeout: float = 30.0, per_host: int = 64) -> None:
        self.timeout = timeout
        self.per_host = per_host
        self.idle: dict[tuple[str, int], list[Connection]] = defaultdict(list)
        self.slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._targets: dict[str, tuple[str, int, str, bytes]] = {}

    async def close(self) -> None:
        for connections in self.idle.values():
            for _, writer in connections:
                writer.close()
        self.idle.clear()

    def _target(self, url: str) -> tuple[str, int, str, bytes]:
        found = self._targets.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme != "http":
                raise ValueError(f"only http:// is supported: {url}")
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            found = self._targets[url] = (host, port, path, f"Host: {host}:{port}\r\n".encode())
        return found

    async def request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        host, port, path, host_line = self._target(url)
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), host_line, f"Content-Length: {len(body)}\r\n".encode()]
        head += [f"{name}: {value}\r\n".encode() for name, value in (headers or {}).items()]
        raw = b"".join(head) + b"\r\n" + body
        slots = self.slots.get((host, port))
        if slots is None:
            slots = self.slots[(host, port)] = asyncio.Semaphore(self.per_host)

        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives as the request completes (CPython gh-86296), and the caller then never stops.
        async with asyncio.timeout(self.timeout), slots:
            return await self._send(host, port, raw)

    async def _send(self, host: str, port: int, raw: bytes) -> tuple[int, bytes]:
        pool = self.idle[(host, port)]
        while pool:
            connection = pool.pop()
            try:
                return await self._exchange(connection, raw, pool)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                # The server closed a kept-alive connection: only retry when it sent nothing back.
                connection[1].close()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
            except BaseException:
                connection[1].close()
                raise
        connection = await asyncio.open_connection(host, port)
        try:
            return await self._exchange(connection, raw, pool)
        except BaseException:
            connection[1].close()
            raise

    @staticmethod
    async def _exchange(connection: Connection, raw: bytes, pool: list[Connection]) -> tuple[int, bytes]:
        reader, writer = connection
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await reader.readexactly(length) if length else b""
        if close:
            writer.close()
        else:
            pool.append(connection)
        return status, body

    # --- JSON helpers for the fake platform's control routes ---------------------------------------
    async def get_json(self, url: str) -> Any:
        status, body = await self.request("GET", url)
        if status != 200:
            raise HttpError(status, body)
        return json.loads(body)

    async def post_json(self, url: str, payload: Any) -> Any:
        data = json.dumps(payload).encode()
        status, body = await self.request("POST", url, data, {"Content-Type": "application/json"})
        if status != 200:
            raise HttpError(status, body)
        return json.loads(body) if body else None
