"""Chat and event handlers. Importing this package registers every handler on ``bot.registry``."""

from handlers import edits, help, membership, outcomes, responses, threads  # noqa: F401
