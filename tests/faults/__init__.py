"""Machinery for the fault tests (and ``bench/soak.py``): Kasane processes to kill, a scripted
conversation with the state it must leave behind, a TCP proxy to cut, and the checks.

Nothing here imports pytest, so the soak benchmark can use it too.

Processes: the first start of a server is a real ``python -m bot --config … serve``. Restarts
after a kill are forked from a pre-imported *fork server* (``multiprocessing``'s forkserver,
preloaded with the bot's modules) and then run exactly the same code, ``bot.cli.main.main([...,
"serve"])``: a restart takes ~0.2 s instead of the 2–6 s that importing the LINE SDK costs,
which is what keeps twenty kills per database inside the CI budget. Set
``KASANE_FAULTS_REAL_RESTARTS=1`` to make every restart a fresh ``python -m bot`` process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.fakeline import FakeLinePlatform, WebhookBuilder, encode_body, new_group_id, new_user_id, sign

REPO = Path(__file__).resolve().parents[2]
REAL_RESTARTS = os.environ.get("KASANE_FAULTS_REAL_RESTARTS") == "1"
PRELOAD = [
    "faults",
    "bot.app",
    "bot.cli.main",
    "bot.cli.serve",
    "bot.pipeline.webhook",
    "bot.pipeline.sender",
    "handlers",
    "jobs",
]
# A phone number posted in a 困りごと: it must never reach the database or a log line.
RAW_PHONE = "０９０－３１４１－５９２６"
RAW_PHONE_DIGITS = "31415926"


# --- ports, configs, environments --------------------------------------------------------


def fault_seed(label: str) -> int:
    """The seed of one randomised fault run: ``KASANE_TEST_SEED`` when set, else a fresh one.

    Printed first, on the real stderr (a run killed by a timeout still shows it) and on the
    test's own output, so that a failing run can be repeated with ``KASANE_TEST_SEED=<seed>``.
    """
    chosen = os.environ.get("KASANE_TEST_SEED")
    seed = int(chosen) if chosen else random.SystemRandom().randrange(10**6)
    line = f"[{label}] seed={seed} (repeat with KASANE_TEST_SEED={seed})"
    print(line, flush=True)
    print(line, file=sys.__stderr__, flush=True)
    return seed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    path: Path,
    *,
    database_url: str,
    line_url: str,
    port: int,
    secret: str,
    token: str,
    session_key: str = "faults-session-key-not-secret",
    lease_seconds: float = 2.0,
    poll_interval: float = 0.1,
    request_timeout: float = 2.0,
    scheduler: bool = False,
    threads: int = 4,
    public_url: str = "",
    trusted_proxies: int = 0,
    approval: str = "automatic",
) -> Path:
    def q(value: str) -> str:
        return json.dumps(value)  # a JSON string is a valid TOML basic string

    path.write_text(
        "\n".join(
            [
                "[line]",
                f"channel_secret = {q(secret)}",
                f"channel_access_token = {q(token)}",
                f"api_base_url = {q(line_url)}",
                f"request_timeout = {request_timeout}",
                "[database]",
                f"url = {q(database_url)}",
                "[server]",
                'host = "127.0.0.1"',
                f"port = {port}",
                f"threads = {threads}",
                f"secret_key = {q(session_key)}",
                f"public_url = {q(public_url)}",
                f"trusted_proxies = {trusted_proxies}",
                "[networks]",
                f"approval = {q(approval)}",
                "[scheduler]",
                f"enabled = {'true' if scheduler else 'false'}",
                "[sender]",
                f"poll_interval = {poll_interval}",
                f"lease_seconds = {lease_seconds}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def clean_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without KASANE_* settings (they would win over the test's config file)."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith("KASANE_") and not name.startswith("KASANE_TEST_"):
            del env[name]
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


# --- Kasane processes ---------------------------------------------------------------------

_fork_context: Any = None
WARM_UP = "KASANE_FAULTS_WARM_UP"


def fork_context() -> Any:
    global _fork_context
    if _fork_context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        # The fork server does not get our sys.path (Python 3.11): give it the way to this package.
        saved = {name: os.environ.get(name) for name in (WARM_UP, "PYTHONPATH")}
        os.environ[WARM_UP] = "1"  # read by this module when the fork server imports it
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), str(REPO)]
            + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else [])
        )
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _fork_context = context
    return _fork_context


def _warm_up() -> None:
    """In the fork server: import everything ``kasane serve`` imports (CLI modules, web features,
    migrations), so that a forked server starts in a fraction of a second."""
    import importlib

    import bot.app  # noqa: F401  (the web app's modules)
    from bot.cli.main import main as cli
    from bot.config import load_config
    from bot.runtime import build_runtime

    for module in cli.COMMAND_MODULES:
        importlib.import_module(module)
    import alembic.command  # noqa: F401

    import bot.store.migrate  # noqa: F401

    overrides = {"database": {"url": "sqlite://"}, "line": {"channel_secret": "w", "channel_access_token": "w"}}
    build_runtime(load_config(environ={}, overrides=overrides)).engine.dispose()


def _redirect_output(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def forked_cli(argv: list[str], log_path: str) -> None:
    """Entry point of a forked child: ``kasane <argv>``, as ``python -m bot`` would run it."""
    _redirect_output(log_path)
    environment = clean_environment()
    os.environ.clear()
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from bot.cli.main import main

    sys.exit(main(argv))


def forked_call(target: str, args: tuple[Any, ...], log_path: str) -> None:
    """Entry point of a forked child running ``module:function(*args)`` (the scheduler test's tick loop)."""
    _redirect_output(log_path)
    import importlib

    module, name = target.split(":")
    getattr(importlib.import_module(module), name)(*args)


def tick_loop(config_path: str, base_iso: str, t0: float, job_names: list[str]) -> None:
    """A scheduler process in miniature: run the named jobs over and over, and the sender beside them.

    Its clock runs in real time from ``base_iso`` at the parent's ``t0`` (the same timeline across
    restarts), so the sender's lease expires for real after a kill.
    """
    import logging
    from datetime import timedelta

    from bot.clock import Clock
    from bot.config import load_config
    from bot.runtime import build_runtime
    from bot.scheduler import run_job
    from jobs import load_all

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(config_path, environ={})
    clock = Clock()
    clock.advance(datetime.fromisoformat(base_iso) + timedelta(seconds=time.time() - t0) - datetime.now(UTC))
    runtime = build_runtime(config, clock=clock)
    jobs = [job for job in load_all() if job.name.rsplit(".", 1)[-1] in job_names]
    logging.getLogger("faults").info("ticking %s at %s", [job.name for job in jobs], clock.now().isoformat())
    runtime.start_sender()  # the sender as `kasane worker` runs it: run_forever in a thread of its own
    while True:
        for job in jobs:
            run_job(runtime, job)
            runtime.sender.wake()
        time.sleep(0.05)


class KasaneProcess:
    """One Kasane server (or worker) that can be killed and started again on the same port."""

    def __init__(
        self,
        config: Path,
        *,
        command: str = "serve",
        args: Iterable[str] = (),
        port: int | None = None,
        log_dir: Path,
        name: str = "kasane",
        verbose: bool = False,
        target: tuple[str, tuple[Any, ...]] | None = None,
    ) -> None:
        self.config = config
        self.command = command
        self.args = list(args)
        self.port = port
        self.log_dir = log_dir
        self.name = name
        self.verbose = verbose
        self.target = target  # "module:function", args: a forked function instead of the CLI
        self.launches = 0
        self.kills = 0
        self._popen: subprocess.Popen[bytes] | None = None
        self._forked: Any = None
        self.lock = threading.RLock()

    @property
    def argv(self) -> list[str]:
        return ["--config", str(self.config), *(["-v"] if self.verbose else []), self.command, *self.args]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        if self._popen is not None:
            return self._popen.pid
        if self._forked is not None:
            return self._forked.pid
        return None

    @property
    def alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        if self._forked is not None:
            return self._forked.is_alive()
        return False

    def log_path(self, launch: int) -> Path:
        return self.log_dir / f"{self.name}-{launch:03d}.log"

    def start(self, *, fork: bool = True) -> KasaneProcess:
        with self.lock:
            if self.alive:
                raise RuntimeError(f"{self.name} is already running")
            self._reap()
            self.launches += 1
            log = self.log_path(self.launches)
            if self.target is not None:
                args = (self.target[0], self.target[1], str(log))
                self._forked = fork_context().Process(target=forked_call, args=args, daemon=False)
                self._forked.start()
            elif fork and not REAL_RESTARTS:
                self._forked = fork_context().Process(target=forked_cli, args=(self.argv, str(log)), daemon=False)
                self._forked.start()
            else:
                with open(log, "ab") as out:
                    self._popen = subprocess.Popen(
                        [sys.executable, "-m", "bot", *self.argv],
                        cwd=REPO,
                        env=clean_environment(),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
        return self

    def kill(self, expected_pid: int | None = None) -> bool:
        """SIGKILL, no warning; True when a live process was killed."""
        with self.lock:
            pid = self.pid
            if pid is None or not self.alive or (expected_pid is not None and pid != expected_pid):
                return False
            os.kill(pid, signal.SIGKILL)
            self.kills += 1
            deadline = time.monotonic() + 10
            while self.alive and time.monotonic() < deadline:  # SIGKILL is delivered asynchronously
                time.sleep(0.005)
            return True

    def _reap(self) -> None:
        if self._popen is not None:
            self._popen.wait(timeout=10)
            self._popen = None
        if self._forked is not None:
            self._forked.join(timeout=10)
            self._forked = None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it hangs; returns the exit code."""
        with self.lock:
            pid = self.pid
            if pid is None:
                return None
            if self.alive:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive:
                os.kill(pid, signal.SIGKILL)
            code = self._popen.wait(10) if self._popen is not None else None
            if self._forked is not None:
                self._forked.join(10)
                code = self._forked.exitcode
            self._popen = self._forked = None
            return code

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Wait for ``GET /healthz`` to answer 200; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            if http_get(self.url + "/healthz", timeout=1.0)[0] == 200:
                return time.monotonic() - started
            time.sleep(0.03)
        raise RuntimeError(f"{self.name} did not become healthy in {timeout:.0f} s:\n{self.log_tail()}")

    def logs(self) -> str:
        parts = []
        for launch in range(1, self.launches + 1):
            path = self.log_path(launch)
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])


# --- HTTP ------------------------------------------------------------------------------------


def _split(url: str) -> tuple[str, int, str]:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), "/" + path


def http_get(url: str, timeout: float = 5.0) -> tuple[int | None, bytes]:
    host, port, path = _split(url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        connection.close()


def post_webhook(base_url: str, body: bytes, headers: dict[str, str], timeout: float = 10.0) -> int | None:
    """POST /callback; the status, or None when no answer came (refused, reset, timed out)."""
    host, port, _ = _split(base_url)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/callback", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def signed(line: WebhookBuilder, secret: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = encode_body(line.payload(event))
    return body, {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "LineBotWebhook/2.0",
        "X-Line-Signature": sign(body, secret),
    }


# --- the scripted conversation -------------------------------------------------------------

OUTCOME_COMMANDS = [
    ("解決", "resolved", "closed"),
    ("緩和", "eased", "closed"),
    ("つなぎ 社協", "referred", "closed"),
    ("伴走", "accompanying", "open"),
    ("終了 その他", "ended", "closed"),
    ("取り下げ", "withdrawn", "closed"),
]
TOPICS = [
    "一人暮らしの高齢の方の通院の付き添いを探しています",
    "子どもの学用品が揃わない家庭があります",
    "ゴミ出しが難しい方がいます",
    "家賃の支払いが遅れている方がいます",
    "不登校の子の居場所を探しています",
    "就労の相談先を知りたい方がいます",
    "フードバンクの受け取りに行けない方がいます",
    "見守りの必要な方がいます",
    "引っ越しの手伝いが必要です",
]


@dataclass
class Step:
    group: int
    kind: str  # join | members | follow | text | postback
    user: int | None = None
    body: str = ""


@dataclass
class ThreadExpectation:
    connections: int = 0
    offers: int = 0
    watchers: int = 0
    outcome: str | None = None
    state: str = "open"


@dataclass
class Conversation:
    """Several networks talking at once: join, registrations, 困りごと, 伝手, offers, outcomes.

    Each group's steps keep their order; groups are interleaved at random (seeded). Every
    step gets exactly one answer in its chat, so the checks know what must have been sent.
    """

    platform: FakeLinePlatform
    groups: int = 3
    posts: int = 9
    seed: int = 0
    steps: list[Step] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    users: list[list[str]] = field(default_factory=list)
    threads: dict[tuple[int, int], ThreadExpectation] = field(default_factory=dict)
    pushes: int = 0  # 1:1 notifications to posters who follow the bot
    outcome_events: int = 0

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        per_group = []
        for g in range(self.groups):
            self.group_ids.append(new_group_id())
            self.users.append([new_user_id() for _ in range(4)])
            self.platform.add_group(self.group_ids[g], f"ささえあいネット{g}")
            for n, user in enumerate(self.users[g]):
                self.platform.add_member(self.group_ids[g], user, f"メンバー{g}-{n}")
            self.platform.add_friend(self.users[g][0], f"メンバー{g}-0")
            per_group.append(self._group_script(g))
        cursors = [0] * self.groups
        while any(cursors[g] < len(per_group[g]) for g in range(self.groups)):
            g = rng.choice([g for g in range(self.groups) if cursors[g] < len(per_group[g])])
            self.steps.append(per_group[g][cursors[g]])
            cursors[g] += 1

    def _group_script(self, g: int) -> list[Step]:
        steps = [Step(g, "join"), Step(g, "members"), Step(g, "follow", 0)]
        names = [f"ひまわり食堂{g} インフォーマル", f"東部地域包括{g} フォーマル", f"民生委員の会{g}", f"NPOつばさ{g}"]
        steps += [Step(g, "text", n, f"団体登録 {name}") for n, name in enumerate(names)]
        posters = {}
        for k in range(1, self.posts + 1):
            poster = 0 if k % 2 else 2
            posters[k] = poster
            topic = TOPICS[(k - 1) % len(TOPICS)]
            extra = f"（連絡先 {RAW_PHONE}）" if k % 4 == 1 else ""
            steps.append(Step(g, "text", poster, f"困りごと 案件{g}-{k}：{topic}{extra}"))
            self.threads[(g, k)] = ThreadExpectation()

        def notify(k: int, responder: int) -> None:
            if posters[k] == 0 and responder != 0:
                self.pushes += 1  # the poster follows the bot: also told 1:1

        for k in range(1, self.posts + 1):
            steps.append(Step(g, "text", 1, f"#{k} 伝手 社協の窓口{g}-{k}が使えるかもしれません"))
            self.threads[(g, k)].connections += 1
            notify(k, 1)
            if k % 2:
                steps.append(Step(g, "text", 3, f"#{k} 手伝えます 土曜なら付き添えます{g}-{k}"))
                self.threads[(g, k)].offers += 1
                notify(k, 3)
            if k % 3 == 0:
                steps.append(Step(g, "postback", 1, f"a=t.watch&n={k}"))
                self.threads[(g, k)].watchers += 1
            if k % 4 == 0:
                steps.append(Step(g, "postback", 3, f"a=t.connect&n={k}"))
                steps.append(Step(g, "text", 3, f"知り合いの民生委員さんに聞いてみます{g}-{k}"))
                self.threads[(g, k)].connections += 1
                notify(k, 3)
        steps += [Step(g, "text", 1, "一覧"), Step(g, "text", 2, "ヘルプ"), Step(g, "text", 3, "#2")]
        for k in range(1, self.posts):
            command, outcome, state = OUTCOME_COMMANDS[(k - 1) % len(OUTCOME_COMMANDS)]
            steps.append(Step(g, "text", posters[k], f"#{k} {command}"))
            self.threads[(g, k)].outcome, self.threads[(g, k)].state = outcome, state
            self.outcome_events += 1
        steps.append(Step(g, "text", posters[1], "#1 再開"))
        steps.append(Step(g, "text", posters[1], "#1 緩和"))
        self.threads[(g, 1)].outcome, self.threads[(g, 1)].state = "eased", "closed"
        self.outcome_events += 1
        return steps

    def __len__(self) -> int:
        return len(self.steps)

    def event(self, index: int, line: WebhookBuilder) -> dict[str, Any]:
        """The webhook event of one step, built when it is first sent (LINE issues the reply token then)."""
        step = self.steps[index]
        group = self.group_ids[step.group]
        user = self.users[step.group][step.user] if step.user is not None else None
        if step.kind == "join":
            return line.join(group)
        if step.kind == "members":
            return line.member_joined(group, self.users[step.group])
        if step.kind == "follow":
            return line.follow(user)
        if step.kind == "postback":
            return line.postback(group, user, step.body)
        return line.text(group, user, step.body)

    @property
    def registrations(self) -> int:
        return 4 * self.groups


class AcceptHook:
    """Runs an action right after the fake LINE platform accepted a message, before it answers:
    LINE has taken the message, the bot has not heard back (the "exactly once" danger zone)."""

    def __init__(self, platform: FakeLinePlatform) -> None:
        self._original = platform.accept
        self._action: Callable[[], None] | None = None
        platform.accept = self._accept  # type: ignore[method-assign]

    @property
    def armed(self) -> bool:
        return self._action is not None

    def arm(self, action: Callable[[], None]) -> None:
        self._action = action

    def disarm(self) -> None:
        self._action = None

    def _accept(self, **kwargs: Any) -> list[dict[str, Any]]:
        sent = self._original(**kwargs)
        action, self._action = self._action, None
        if action is not None:
            action()
        return sent


# --- driving it ---------------------------------------------------------------------------------


@dataclass
class DriveStats:
    events: int = 0
    posts: int = 0
    redeliveries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def drive(
    conversation: Conversation,
    line: WebhookBuilder,
    secret: str,
    base_url: Callable[[], str],
    *,
    before_post: Callable[[int], None] = lambda index: None,
    on_unacknowledged: Callable[[int, int | None], None] = lambda index, status: time.sleep(0.1),
    max_attempts: int = 200,
    pace: float = 0.0,
) -> DriveStats:
    """Send every step in order, as LINE would: a step not answered 200 is redelivered
    (same webhookEventId and reply token, ``isRedelivery: true``) until it is."""
    stats = DriveStats()
    started = time.monotonic()
    for index in range(len(conversation)):
        event = conversation.event(index, line)
        before_post(index)
        for _attempt in range(max_attempts):
            body, headers = signed(line, secret, event)
            status = post_webhook(base_url(), body, headers)
            stats.posts += 1
            stats.statuses[str(status) if status is not None else "no answer"] += 1
            if status == 200:
                break
            on_unacknowledged(index, status)
            event = line.redelivery(event)
            stats.redeliveries += 1
        else:
            raise AssertionError(f"step {index} was never acknowledged after {max_attempts} attempts")
        stats.events += 1
        if pace:
            time.sleep(pace)
    stats.seconds = time.monotonic() - started
    return stats


# --- checks -----------------------------------------------------------------------------------------


def fingerprint(messages: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """What a reader sees of a request's messages (robust to how the SDK re-serialises them)."""
    return tuple((str(m.get("type")), str(m.get("text") or m.get("altText") or "")) for m in messages)


def wait_until_sent(engine: Any, timeout: float = 90.0, alive: Callable[[], bool] | None = None) -> float:
    """Wait until the worker has handled every event and no outbox row is pending; returns the seconds it took."""
    from sqlalchemy import text

    from bot.store.db import make_inbox_engine

    inbox = make_inbox_engine(engine.url.render_as_string(hide_password=False), engine)
    started = time.monotonic()
    pending = None
    while time.monotonic() - started < timeout:
        with inbox.connect() as connection:
            waiting = connection.execute(text("SELECT count(*) FROM inbox")).scalar()
        with engine.connect() as connection:
            pending = connection.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()
        if pending == 0 and waiting == 0:
            if inbox is not engine:
                inbox.dispose()
            return time.monotonic() - started
        if alive is not None and not alive():
            raise AssertionError("the server died while the outbox was draining")
        time.sleep(0.2)
    raise AssertionError(f"{pending} outbox rows still pending after {timeout:.0f} s")


@dataclass
class Figures:
    events: int = 0
    threads: int = 0
    responses: int = 0
    outcomes: int = 0
    messages_expected: int = 0
    deliveries: int = 0
    lost: int = 0
    duplicated: int = 0
    via_reply: int = 0
    via_push: int = 0
    saved_by_retry_key: int = 0  # LINE answered 409: the retried push was not delivered twice
    redelivered_events_handled: int = 0


def check_conversation(engine: Any, conversation: Conversation, platform: FakeLinePlatform) -> Figures:
    """Everything the script did took effect exactly once, and every answer reached LINE exactly once."""
    from sqlalchemy import text

    figures = Figures(events=len(conversation))
    delivery = check_outbox_delivered(engine, platform)  # losses and duplicates first
    with engine.connect() as c:
        networks = dict(c.execute(text("SELECT group_id, id FROM networks")).all())
        assert sorted(networks) == sorted(conversation.group_ids), "one network per group"
        by_id = {network_id: conversation.group_ids.index(group) for group, network_id in networks.items()}
        rows = c.execute(
            text("SELECT network_id, number, connection_count, offer_count, watcher_count, outcome, state FROM threads")
        ).all()
        actual = {
            (by_id[r.network_id], r.number): ThreadExpectation(
                r.connection_count, r.offer_count, r.watcher_count, r.outcome, r.state
            )
            for r in rows
        }
        assert len(rows) == len(actual)
        assert actual == conversation.threads, _diff(conversation.threads, actual)
        figures.threads = len(rows)
        responses = dict(c.execute(text("SELECT kind, count(*) FROM thread_responses GROUP BY kind")).all())
        expected_responses = {
            "connection": sum(t.connections for t in conversation.threads.values()),
            "offer": sum(t.offers for t in conversation.threads.values()),
            "watch": sum(t.watchers for t in conversation.threads.values()),
        }
        assert responses == expected_responses
        figures.responses = sum(responses.values())
        outcome_events = c.execute(text("SELECT count(*) FROM thread_events WHERE kind = 'outcome'")).scalar()
        assert outcome_events == conversation.outcome_events, (outcome_events, conversation.outcome_events)
        figures.outcomes = outcome_events
        registered = c.execute(text("SELECT count(*) FROM members WHERE registered_at IS NOT NULL")).scalar()
        assert registered == conversation.registrations
        events = c.execute(
            text("SELECT count(*), sum(CASE WHEN redelivery THEN 1 ELSE 0 END) FROM webhook_events")
        ).one()
        assert events[0] == len(conversation), "every event recorded once"
        figures.redelivered_events_handled = int(events[1] or 0)
    replies = [r for r in delivery.rows if r.reply_token]
    assert len(replies) == len(conversation), "exactly one answer queued per event"
    assert len({r.reply_token for r in replies}) == len(replies), "an event queued its answer twice"
    assert len(delivery.rows) - len(replies) == conversation.pushes, "1:1 notifications"
    figures.messages_expected = len(delivery.rows)
    figures.deliveries = delivery.deliveries
    figures.via_reply, figures.via_push = delivery.via_reply, delivery.via_push
    figures.lost, figures.duplicated = delivery.lost, delivery.duplicated
    figures.saved_by_retry_key = delivery.conflicts
    return figures


@dataclass
class Delivered:
    rows: list[Any]
    deliveries: int
    via_reply: int
    via_push: int
    lost: int
    duplicated: int
    conflicts: int  # 409: a retried push LINE had already accepted


def check_outbox_delivered(engine: Any, platform: FakeLinePlatform, *, allow_failed: bool = False) -> Delivered:
    """Every message row reached LINE exactly once and in order per chat; nothing is left pending.

    Compares what the database queued (outbox rows, by id) with what the fake platform
    accepted (deliveries), by chat and by content, and checks that no retry key was delivered twice.
    Losses and duplicates are counted and asserted first, over every row the bot meant to send
    (a row marked failed is a lost message unless ``allow_failed``, where LINE refused it on purpose),
    so no later check and no caller can turn a lost message into anything but a failure.
    """
    from sqlalchemy import text

    with engine.connect() as c:
        outbox = c.execute(
            text(
                "SELECT id, chat_id, lane, status, reply_token, messages, last_error, retry_key FROM outbox ORDER BY id"
            )
        ).all()
    messages = [r for r in outbox if not r.chat_id.startswith("lookup:")]
    meant = [r for r in messages if r.status == "sent" or (r.status == "failed" and not allow_failed)]
    deliveries = platform.deliveries()
    expected = Counter((r.chat_id, fingerprint(_json(r.messages))) for r in meant)
    delivered = Counter((d.to, fingerprint(d.messages)) for d in deliveries)
    lost, duplicated = expected - delivered, delivered - expected
    assert not lost and not duplicated, (
        f"{sum(lost.values())} lost, {sum(duplicated.values())} duplicated"
        f"\nlost: {dict(lost)}\nduplicated: {dict(duplicated)}"
        f"\nfailed rows: {[(r.id, r.last_error) for r in outbox if r.status == 'failed'][:5]}"
    )
    keys = Counter(d.retry_key for d in deliveries if d.retry_key)
    assert all(n == 1 for n in keys.values()), f"a retry key delivered twice: {keys.most_common(3)}"
    pending = [(r.id, r.chat_id, r.last_error) for r in outbox if r.status == "pending"]
    assert not pending, f"outbox rows still pending: {pending}"
    if not allow_failed:
        failed = [(r.id, r.chat_id, r.last_error) for r in outbox if r.status == "failed"]
        assert not failed, f"outbox rows failed: {failed}"
    rows = [r for r in messages if r.status == "sent"]
    # Order holds within a lane (a chat, or one member's answers in a group): match each
    # delivery to its row by the reply token or retry key it carried.
    by_key = {r.retry_key: r for r in rows} | {r.reply_token: r for r in rows if r.reply_token}
    for lane in {r.lane for r in rows}:
        queued = [r.id for r in rows if r.lane == lane]
        matched = [by_key.get(d.reply_token or d.retry_key) for d in deliveries]
        sent = [r.id for r in matched if r is not None and r.lane == lane]
        assert sent == queued, f"order differs in lane {lane}"
    return Delivered(
        rows=rows,
        deliveries=len(deliveries),
        via_reply=sum(d.via == "reply" for d in deliveries),
        via_push=sum(d.via == "push" for d in deliveries),
        lost=sum(lost.values()),
        duplicated=sum(duplicated.values()),
        conflicts=sum(1 for r in platform.requests if r.status == 409),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _diff(expected: dict[Any, Any], actual: dict[Any, Any]) -> str:
    keys = sorted(set(expected) | set(actual))
    differ = [k for k in keys if expected.get(k) != actual.get(k)]
    return "; ".join(f"{k}: expected {expected.get(k)} got {actual.get(k)}" for k in differ)


def secrets_in(text: str, secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s and s in text]


# --- a TCP proxy to cut the database connection ---------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> → target. ``cut()`` resets every open connection and refuses new ones, as a
    database that crashed or restarts would; ``restore()`` listens again on the same port.

    ``cut_on(marker)`` arms a precise cut: the next client chunk containing ``marker`` (e.g.
    ``b"COMMIT"``) is forwarded, the server's answer is swallowed, and everything is cut
    ``delay`` seconds later: the database committed, the application never heard back.
    ``drop_on(marker)`` cuts *before* forwarding the chunk: the statement never arrives.
    """

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._armed: tuple[bytes, str, float, bool] | None = None
        self.cuts = 0
        self.connections = 0
        self.fired = threading.Event()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name=f"proxy:{self.port}").start()
        return self

    restore = start

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
            self.cuts += 1
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for client, server in pairs:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with contextlib.suppress(OSError):
                    sock.close()

    def cut_on(self, marker: bytes, *, delay: float = 0.2, restore_after: bool = False) -> None:
        self.fired.clear()
        self._armed = (marker, "after", delay, restore_after)

    def drop_on(self, marker: bytes, *, restore_after: bool = False) -> None:
        self.fired.clear()
        self._armed = (marker, "before", 0.0, restore_after)

    def disarm(self) -> None:
        self._armed = None

    def stop(self) -> None:
        self.disarm()
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._pairs.append((client, server))
                self.connections += 1
            swallow = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, True, swallow), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False, swallow), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool, swallow: threading.Event) -> None:
        try:
            while True:
                ready, _, _ = select.select([source], [], [], 0.5)
                if not ready:
                    if source.fileno() < 0:
                        return
                    continue
                data = source.recv(65536)
                if not data:
                    return
                armed = self._armed
                if upstream and armed is not None and armed[0] in data:
                    self._armed = None
                    marker, when, delay, restore_after = armed
                    if when == "after":
                        swallow.set()
                        sink.sendall(data)
                        time.sleep(delay)
                    self.fired.set()
                    self.cut()
                    if restore_after:
                        self.restore()
                    return
                if not upstream and swallow.is_set():
                    continue
                sink.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()


def postgres_address(url: str) -> tuple[str, int]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def via_proxy(url: str, proxy: TcpProxy) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def utc_now() -> datetime:
    return datetime.now(UTC)


if os.environ.get(WARM_UP) == "1":
    os.environ.pop(WARM_UP, None)
    with contextlib.suppress(Exception):
        _warm_up()
