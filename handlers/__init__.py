"""Chat and event handlers. Importing this package registers every handler on ``bot.pipeline.registry``."""

from handlers import edits, help, login, meeting_participation, meetings, membership, outcomes, responses, threads  # noqa: F401
