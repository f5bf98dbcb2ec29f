"""Chat and event handlers. Importing this package registers every handler on ``bot.registry``."""

from handlers import help, membership  # noqa: F401
