"""Everything the bot says: message builders (compose, cards, meeting cards) and the wording catalog (messages)."""
