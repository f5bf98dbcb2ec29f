"""Every word the bot says, in one place: polite, short, plain Japanese (合理的配慮).

Handlers never write wording inline; they use ``messages.X`` and pass the result to
``bot.compose``. One module per feature keeps the catalog readable; all are re-exported here.
"""

from bot.messages.core import *  # noqa: F403
from bot.messages.dashboard import *  # noqa: F403
from bot.messages.meetings import *  # noqa: F403
from bot.messages.threads import *  # noqa: F403
