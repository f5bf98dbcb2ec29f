"""Percentiles and the summary of one load phase."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

LINE_TIMEOUT = 2.0  # LINE counts a webhook that has not answered in 2 s as failed


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no data."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def distribution_ms(values: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max/mean in milliseconds of values given in seconds."""
    ordered = sorted(values)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 2)

    return {
        "n": len(ordered),
        "p50": ms(percentile(ordered, 50)),
        "p95": ms(percentile(ordered, 95)),
        "p99": ms(percentile(ordered, 99)),
        "max": ms(ordered[-1] if ordered else None),
        "mean": ms(sum(ordered) / len(ordered) if ordered else None),
    }


@dataclass(slots=True)
class Sample:
    """One webhook POST: what it carried, when it was due, how and when it was answered."""

    kind: str
    due_wall: float  # epoch seconds when the POST was due (open loop) or sent (closed loop)
    ack: float  # seconds from due to the complete answer (or to the failure)
    status: int  # 0 when no HTTP answer came
    error: str  # "" or the client error's name
    expect: int  # the status a correct server answers
    reply_token: str | None  # set when a reply from the bot is expected for this POST
    events: int = 1


def summarise(
    samples: list[Sample],
    elapsed: float,
    replies: dict[str, float] | None = None,
    *,
    strict_status: bool = True,
) -> dict[str, Any]:
    """Throughput, ack latency, errors and end-to-end reply time of one phase.

    ``replies`` maps a reply token to the epoch time LINE accepted the bot's reply with it.
    ``strict_status`` False accepts 200 where 400 was expected (not used by the benchmark).
    """
    acks = [s.ack for s in samples if s.status]
    unexpected = Counter()
    for s in samples:
        if s.error:
            unexpected[f"client:{s.error}"] += 1
        elif s.status != s.expect and (strict_status or s.status >= 500):
            unexpected[f"{s.status} (expected {s.expect})"] += 1
    errors = sum(unexpected.values())
    late = sum(1 for s in samples if s.ack > LINE_TIMEOUT or (s.error and s.status == 0))
    kinds = Counter(s.kind for s in samples)
    result: dict[str, Any] = {
        "requests": len(samples),
        "events": sum(s.events for s in samples),
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(len(samples) / elapsed, 1) if elapsed > 0 else None,
        "ack_ms": distribution_ms(acks),
        "errors": errors,
        "error_kinds": dict(unexpected),
        "over_2s": late,
        "by_kind": dict(sorted(kinds.items())),
    }
    if replies is not None:
        wanted = [s for s in samples if s.reply_token and s.status == 200]
        e2e = [replies[s.reply_token] - s.due_wall for s in wanted if s.reply_token in replies]
        result["e2e_ms"] = distribution_ms(e2e)
        result["replies"] = {"expected": len(wanted), "received": len(e2e)}
    return result
