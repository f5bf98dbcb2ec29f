"""The events ``bench/handler_profile.py`` feeds to the bot: networks, their setup, then the load's mix.

The mix, its planning and its events are ``bench/loadgen/scenario.py``'s, so the handling measured
here is what the load pays; the steps are built here without reply tokens from a fake platform
process, one event at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench.loadgen.scenario import DEFAULT_MIX, Network, Scenario
from bot.fakeline import WebhookBuilder

Event = dict[str, Any]

# Bad signatures are left out: they are refused before any event is handled.
MIX: dict[str, float] = {kind: share for kind, share in DEFAULT_MIX.items() if kind != "bad_signature"}


@dataclass
class Step:
    kind: str
    event: Event
    network: Network
    post_message_id: str | None = None  # a 困りごと: learn its number once handled


def _step(kind: str, event: Event, network: Network) -> Step:
    post_id = (event.get("message") or {}).get("id") if kind == "post" else None
    return Step(kind, event, network, post_id)


class EventMix:
    """Setup steps per network, then a seeded stream of load events."""

    def __init__(self, line: WebhookBuilder, networks: list[Network], meeting_day: date, seed: int = 1) -> None:
        self.line = line
        self.networks = networks
        self.scenario = Scenario(networks, "", None, seed=seed, mix=MIX, line=line)  # type: ignore[arg-type]
        self.scenario.meeting_day = meeting_day.isoformat()

    def setup(self, network: Network, seed_threads: int) -> list[Callable[[], Step]]:
        """Steps that make a network whose load events do real work (as the load benchmark's setup)."""
        return [
            lambda kind=kind, build=build: _step(kind, build(), network)
            for kind, _chat, build in self.scenario.setup_plan(network, seed_threads)
        ]

    def next(self) -> Step:
        scenario = self.scenario
        kind, network = scenario.plan()
        if kind == "redelivery":
            return Step(kind, self.line.redelivery(scenario.rng.choice(scenario.recent)), network)
        event = scenario.event(kind, network)
        scenario.recent.append(event)
        return _step(kind, event, network)

    def learned(self, network: Network, number: int, message_id: str) -> None:
        if number not in network.post_ids:
            network.post_ids[number] = message_id
            network.threads.append(number)
