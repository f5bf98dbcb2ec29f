"""The browser chat simulator (simulator mode only). Filled in by the simulator feature."""

from __future__ import annotations

from typing import Any


def register(app: Any, runtime: Any) -> None:
    """Mount /simulator on the app (simulator mode only)."""
