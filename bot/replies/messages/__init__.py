"""Every word the bot says, in one place: polite, short, plain Japanese (合理的配慮).

Handlers never write wording inline; they use ``messages.X`` and pass the result to
``bot.replies.compose``. One module per feature keeps the catalog readable; all are re-exported here.
"""

from bot.replies.messages.casebook import *  # noqa: F403
from bot.replies.messages.categories import *  # noqa: F403
from bot.replies.messages.connections import *  # noqa: F403
from bot.replies.messages.consent import *  # noqa: F403
from bot.replies.messages.core import *  # noqa: F403
from bot.replies.messages.dashboard import *  # noqa: F403
from bot.replies.messages.guidance import *  # noqa: F403
from bot.replies.messages.meetings import *  # noqa: F403
from bot.replies.messages.threads import *  # noqa: F403
