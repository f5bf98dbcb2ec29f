"""Chat and event handlers. Importing this package registers every handler on ``bot.pipeline.registry``."""

from handlers import (  # noqa: F401
    areas,
    budget,
    casebook,
    edits,
    help,
    login,
    meeting_notice,
    meeting_participation,
    meetings,
    membership,
    outcomes,
    responses,
    suggestions,
    threads,
)
