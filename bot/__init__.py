"""Kasane's LINE side: receive and verify webhooks, dispatch to handlers, deliver the outbox."""

from bot.app import create_app

__all__ = ["create_app"]
