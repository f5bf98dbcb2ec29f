"""Per-network settings: defaults here, overrides in ``Network.settings`` (JSON)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import time
from typing import Any

from models.network import Network


@dataclass(frozen=True)
class NetworkSettings:
    quiet_start: str = "09:00"  # follow-ups are only sent between quiet_start and quiet_end
    quiet_end: str = "20:00"
    nudge_days: int = 3  # no response: bring the thread back once in the group
    flag_days: int = 7  # no response: put it on the next meeting's agenda
    check_days: int = 14  # responses but no outcome: ask the poster how it went ...
    check_max: int = 2  # ... at most this many times
    accompany_days: int = 30  # 伴走: a check-in this often
    answer_minutes: int = 10  # after 「伝手あり」, the presser's next message within this is the answer
    quiet_days: bool = True  # no follow-ups or monthly figures on Sundays, 年末年始, holidays (models.quiet_days)
    # What the group's own meeting is: ネットワーク会議 (the default), 重層的支援会議 or 支援会議.
    meeting_kind: str = "ネットワーク会議"

    @property
    def quiet_window(self) -> tuple[time, time]:
        return time.fromisoformat(self.quiet_start), time.fromisoformat(self.quiet_end)


MEETING_KINDS = ("ネットワーク会議", "重層的支援会議", "支援会議")


def network_settings(network: Network) -> NetworkSettings:
    known = {f.name for f in fields(NetworkSettings)}
    overrides: dict[str, Any] = {k: v for k, v in (network.settings or {}).items() if k in known}
    return replace(NetworkSettings(), **overrides)
