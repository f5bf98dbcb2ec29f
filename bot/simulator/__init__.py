"""The browser chat simulator (simulator mode only): try Kasane in a LINE-like group without LINE.

Every action on the page becomes a signed webhook POSTed to the bot's own /callback, and
every answer is what the built-in fake LINE platform accepted: if it works here, it works in LINE.
Composed by ``bot/simulator/mode.py``.
"""
