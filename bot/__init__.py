"""Kasane's LINE side, in wings (see README "How it works"). Importing ``bot`` loads nothing:
a handler that needs ``bot.replies.cards`` must not build a web app on the way."""
