"""The load generator: signed webhook POSTs at a fixed rate (open loop) or concurrency (closed loop).

Open loop: POST i is due at ``start + i / rate`` whatever the server does, and its latency is
measured from that due time, so a slow server shows its queueing (no coordinated omission).
Closed loop: ``concurrency`` senders each wait for an answer before the next POST: the server's
throughput at saturation.

One asyncio event loop with a small keep-alive HTTP/1.1 client (bench/loadgen/http.py): on 2 cores
it keeps the timing accurate at a few thousand requests/s with far less CPU than threads or
aiohttp, and leaves the servers as much of the machine as possible.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen.http import HttpClient, HttpError
from bench.loadgen.scenario import Network, Request, Scenario, TokenSource, make_networks
from bench.loadgen.stats import Sample, summarise

TOKEN_TTL = 40.0  # LINE's reply token works for 60 s; never send one older than this


class TokenPool:
    """Reply tokens issued by the fake LINE platform, per chat, refilled ahead of use."""

    def __init__(self, control: HttpClient, platform_url: str) -> None:
        self.control = control
        self.url = platform_url.rstrip("/") + "/_bench/tokens"
        self.tokens: dict[str, deque[tuple[float, str]]] = defaultdict(deque)
        self.taken: Counter[str] = Counter()
        self.rate: dict[str, float] = defaultdict(float)  # tokens/s per chat, smoothed

    def available(self, chat: str) -> int:
        pool, oldest = self.tokens[chat], time.monotonic() - TOKEN_TTL
        while pool and pool[0][0] < oldest:
            pool.popleft()
        return len(pool)

    def take(self, chat: str) -> str:
        if not self.available(chat):
            raise RuntimeError(f"no reply token ready for {chat}: await ensure() first")
        self.taken[chat] += 1
        return self.tokens[chat].popleft()[1]

    async def ensure(self, chat: str, n: int = 1) -> None:
        if self.available(chat) < n:
            await self.refill({chat: max(n, 16)})

    async def refill(self, counts: dict[str, int]) -> None:
        issued = await self.control.post_json(self.url, {"counts": counts})
        now = time.monotonic()
        for chat, tokens in issued.items():
            self.tokens[chat].extend((now, token) for token in tokens)

    async def keep_filled(self, chats: list[str], every: float = 0.25, lead: float = 2.0) -> None:
        """Keep about ``lead`` seconds of tokens per chat, so that a due POST never waits for one."""
        while True:
            counts = {}
            for chat in chats:
                self.rate[chat] = 0.7 * self.rate[chat] + 0.3 * self.taken.pop(chat, 0) / every
                target = max(8, math.ceil(self.rate[chat] * lead))
                have = self.available(chat)
                if have < target:
                    counts[chat] = target * 2 - have
            if counts:
                try:
                    await self.refill(counts)
                except (TimeoutError, HttpError, OSError):
                    pass  # try again next round; ensure() still covers a miss
            await asyncio.sleep(every)


class ReplyLog:
    """What the bot sent to LINE, read from the fake platform: reply token -> accepted at (epoch)."""

    def __init__(self, control: HttpClient, platform_url: str) -> None:
        self.control = control
        self.url = platform_url.rstrip("/") + "/_bench/replies"
        self.replied: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.last_row_at = 0.0
        self.listeners: dict[str, Callable[[dict[str, Any]], None]] = {}

    async def poll(self) -> int:
        rows = await self.control.get_json(self.url)
        for row in rows:
            path, status = row["path"], row["status"]
            kind = path.rsplit("/", 1)[-1] if path.startswith("/v2/bot/message/") else "lookup"
            self.counts[f"{kind} {status}"] += 1
            token = row.get("replyToken")
            if token and status == 200 and token not in self.replied:
                self.replied[token] = row["at"]
                listener = self.listeners.pop(token, None)
                if listener is not None:
                    listener(row)
        if rows:
            self.last_row_at = time.monotonic()
        return len(rows)

    async def poll_forever(self, every: float = 0.1) -> None:
        while True:
            try:
                await self.poll()
            except (TimeoutError, HttpError, OSError):
                pass
            await asyncio.sleep(every)

    async def settle(self, wanted: set[str], timeout: float, quiet: float = 0.5) -> bool:
        """Wait until every wanted token has its reply and LINE saw nothing new for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        calm_since = time.monotonic()
        while time.monotonic() < deadline:
            if await self.poll():
                calm_since = time.monotonic()
            if not wanted - self.replied.keys() and time.monotonic() - calm_since >= quiet:
                return True
            await asyncio.sleep(0.1)
        return False


@dataclass
class Phase:
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    elapsed: float = 0.0


class LoadGenerator:
    """``async with LoadGenerator(callback_urls, platform_url, secret) as load: await load.setup(); ...``"""

    def __init__(
        self,
        callback_urls: list[str],
        platform_url: str,
        secret: str,
        *,
        networks: int = 12,
        members: int = 6,
        seed_threads: int = 6,
        seed: int = 1,
        mix: dict[str, float] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.urls = callback_urls
        self.platform_url = platform_url.rstrip("/")
        self.secret = secret
        self.rng = random.Random(seed)
        self.networks: list[Network] = make_networks(networks, members, self.rng)
        self.seed_threads = seed_threads
        self.seed = seed
        self.mix = mix
        self.timeout = timeout
        self._next_url = 0
        self._background: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> LoadGenerator:
        self.http = HttpClient(timeout=self.timeout)
        self.control = HttpClient(timeout=30.0)
        bot_user_id = (await self.control.get_json(self.platform_url + "/_bench/bot"))["botUserId"]
        self.tokens = TokenPool(self.control, self.platform_url)
        self.replies = ReplyLog(self.control, self.platform_url)
        self.scenario = Scenario(
            self.networks, self.secret, TokenSource(self.tokens.take, bot_user_id), seed=self.seed, mix=self.mix
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_background()
        await self.http.close()
        await self.control.close()

    # --- control of the fake platform -------------------------------------------------------------
    async def set_latency(self, seconds: float) -> None:
        await self.control.post_json(self.platform_url + "/_bench/latency", {"seconds": seconds})

    def start_background(self) -> None:
        chats = [n.group_id for n in self.networks]
        self._background = [
            asyncio.create_task(self.tokens.keep_filled(chats)),
            asyncio.create_task(self.replies.poll_forever()),
        ]

    async def stop_background(self) -> None:
        # Cancel until they are done: a cancellation swallowed inside a task (as Python 3.11's
        # wait_for did, CPython gh-86296) once left the reply poller running for ever, and the
        # benchmark waiting for it.
        pending = set(self._background)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in self._background:
            if not task.cancelled():
                task.exception()  # retrieved, so asyncio does not report it: a stopped poller's last error is moot
        self._background = []

    # --- sending ----------------------------------------------------------------------------------
    async def post(self, request: Request) -> tuple[int, str]:
        url = self.urls[self._next_url % len(self.urls)]
        self._next_url += 1
        try:
            status, _ = await self.http.request("POST", url, request.body, request.headers)
            return status, ""
        except (TimeoutError, asyncio.IncompleteReadError, OSError, ValueError) as exc:
            return 0, exc.__class__.__name__

    async def _next_request(self) -> Request:
        kind, network = self.scenario.plan()
        if kind != "redelivery":
            await self.tokens.ensure(network.group_id)
        request = self.scenario.build(kind, network)
        self._learn_from_reply(request)
        return request

    def _learn_from_reply(self, request: Request) -> None:
        """A post's thread number is in the bot's card: answers may then go to that thread."""
        network, message_id = request.network, request.post_message_id
        if network is not None and message_id and request.reply_token:
            self.replies.listeners[request.reply_token] = lambda row: self.scenario.learned(
                network, message_id, row.get("summary", "")
            )

    async def _send_one(self, phase: Phase, due_loop: float, due_wall: float, record: bool = True) -> None:
        try:
            request = await self._next_request()
        except (TimeoutError, HttpError, OSError) as exc:  # the fake platform did not issue a token
            if record:
                phase.samples.append(Sample("-", due_wall, 0.0, 0, f"loadgen:{exc.__class__.__name__}", 200, None))
            return
        status, error = await self.post(request)
        if record:
            ack = asyncio.get_running_loop().time() - due_loop
            phase.samples.append(
                Sample(request.kind, due_wall, ack, status, error, request.expect, request.reply_token)
            )

    # --- setup --------------------------------------------------------------------------------------
    async def setup(self, *, expect_replies: bool, timeout: float = 90.0) -> dict[str, Any]:
        """Join every group, register every member, set areas and the meeting, post a few 困りごと."""
        started = time.monotonic()
        await self.control.post_json(self.platform_url + "/_bench/world", self.scenario.world())
        failures: Counter[str] = Counter()
        posted: dict[str, tuple[Network, str]] = {}  # reply token -> (network, post message id)
        for network in self.networks:
            for kind, chat, build in self.scenario.setup_plan(network, self.seed_threads):
                await self.tokens.ensure(chat)
                request = self.scenario.request(kind, build(), network)
                if kind == "post" and request.reply_token and request.post_message_id:
                    posted[request.reply_token] = (network, request.post_message_id)
                    self._learn_from_reply(request)
                status, error = await self.post(request)
                if status != 200:
                    failures[f"{kind}: {status or error}"] += 1
        settled = await self.replies.settle(set(posted) if expect_replies else set(), timeout)
        # A bot that does not number threads in its replies (the floor, the SDK pattern): in posting order.
        by_network: dict[str, list[str]] = defaultdict(list)
        for network, message_id in posted.values():
            by_network[network.group_id].append(message_id)
        for network in self.networks:
            self.scenario.assume_numbers(network, by_network[network.group_id])
        return {
            "seconds": round(time.monotonic() - started, 2),
            "networks": len(self.networks),
            "members": sum(len(n.people) for n in self.networks),
            "threads": sum(len(n.threads) for n in self.networks),
            "settled": settled,
            "failures": dict(failures),
        }

    # --- load -----------------------------------------------------------------------------------------
    async def open_loop(self, rate: float, duration: float) -> Phase:
        """POSTs due at a fixed rate; each latency counts from its due time."""
        loop = asyncio.get_running_loop()
        phase = Phase()
        count = max(1, int(rate * duration))
        start_loop = loop.time() + 0.05
        start_wall = time.time() + (start_loop - loop.time())
        running: set[asyncio.Task[None]] = set()
        for i in range(count):
            due = start_loop + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._send_one(phase, due, start_wall + (due - start_loop)))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*list(running))
        # Throughput over the offered window; a server that fell behind shows it in the latencies.
        phase.started, phase.elapsed = start_wall, count / rate
        return phase

    async def closed_loop(
        self, concurrency: int, duration: float | None, warmup: float = 1.0, requests: int | None = None
    ) -> Phase:
        """``concurrency`` senders, each POSTing as soon as its previous POST was answered, for
        ``duration`` seconds after ``warmup`` (not measured), or until ``requests`` were measured."""
        loop = asyncio.get_running_loop()
        phase = Phase()
        begin = loop.time()
        measure_from = begin + warmup
        stop_at = measure_from + duration if duration is not None else math.inf
        budget = requests if requests is not None else math.inf
        sent = 0

        async def sender() -> None:
            nonlocal sent
            while loop.time() < stop_at and sent < budget:
                due_loop, due_wall = loop.time(), time.time()
                counted = due_loop >= measure_from
                sent += counted
                await self._send_one(phase, due_loop, due_wall, record=counted)

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        phase.elapsed = loop.time() - measure_from  # until the last answer came
        phase.started = time.time() - (loop.time() - measure_from)
        return phase

    async def drain(self, phase: Phase, timeout: float) -> dict[str, Any]:
        """Wait (at most ``timeout`` s) for the bot's replies to this phase's events."""
        started = time.monotonic()
        wanted = {s.reply_token for s in phase.samples if s.reply_token and s.status == 200}
        quiet_since = time.monotonic()
        seen = len(self.replies.replied)
        while time.monotonic() - started < timeout:
            try:
                await self.replies.poll()
            except (TimeoutError, HttpError, OSError):
                pass
            if not wanted - self.replies.replied.keys():
                break
            if len(self.replies.replied) != seen:
                seen, quiet_since = len(self.replies.replied), time.monotonic()
            elif time.monotonic() - quiet_since > 5.0 and self.replies.last_row_at < quiet_since:
                break  # nothing at all reached LINE for 5 s: the rest will not come
            await asyncio.sleep(0.2)
        missing = len(wanted - self.replies.replied.keys())
        return {"seconds": round(time.monotonic() - started, 2), "missing": missing}

    def result(self, phase: Phase, *, with_replies: bool = True) -> dict[str, Any]:
        return summarise(phase.samples, phase.elapsed, self.replies.replied if with_replies else None)


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def run(
    callback_urls: list[str],
    platform_url: str,
    secret: str,
    body: Callable[[LoadGenerator], Awaitable[Any]],
    **options: Any,
) -> Any:
    async with LoadGenerator(callback_urls, platform_url, secret, **options) as load:
        return await body(load)
