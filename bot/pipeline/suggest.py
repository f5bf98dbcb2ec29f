"""Near-misses of commands: 「困りこと …」「一欄」「へるぷ」「3 伝手 …」 → the command they surely meant.

Suggest, never guess: this only finds the corrected text; the bot asks 「もしかして…？」 and a
button sends it. The words come from the registry (``Registry.words`` and ``thread_verbs``), so
a new command is covered without edits here.

Two texts are the same command word when they read the same: NFKC (full/half width), lower
case, katakana as hiragana (``jaconv``), voiced marks dropped (こと/ごと, ふ/ぷ), a leading ``#``
dropped. Beyond that a word may be one edit away (``rapidfuzz``), with care, because ordinary
chat must stay unanswered:
- only the first word of a message is compared, and a command that takes nothing after it
  (一覧, 会議) is suggested only for a message that is that word alone;
- a two-letter word may differ by one kanji (一欄 → 一覧) only when the message is that word alone;
- a word ending in a particle (会議中に …) is a sentence, not a slip.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jaconv
from rapidfuzz.distance import Levenshtein

from bot.pipeline.registry import CommandWord, Registry

VOICE_MARKS = dict.fromkeys(map(ord, "\u3099\u309a"))
PARTICLES = tuple("にはがをでともへのや")
THREAD_FORM = re.compile(r"(?P<hash>#?)\s*(?P<n>\d{1,9})\s*(?P<verb>[^\s\d]\S*?)(?:\s+(?P<rest>.*))?", re.DOTALL)
FIRST_WORD = re.compile(r"(?P<head>\S+)(?:\s+(?P<rest>.*))?", re.DOTALL)
LONGEST_WORD = 12  # longer first words are sentences


@lru_cache(maxsize=4096)  # the registry's words are folded for every unmatched message
def fold(text: str) -> str:
    """How a command word reads, whatever way it was typed."""
    text = unicodedata.normalize("NFKC", text).strip().lower().lstrip("#")
    text = jaconv.kata2hira(text)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(VOICE_MARKS))


def _is_kanji(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def near(typed: str, word: str, *, alone: bool) -> bool:
    """``typed`` is a slip for ``word`` (neither is the exact command: that matched already)."""
    a, b = fold(typed), fold(word)
    if not a or not b:
        return False
    if a == b:
        return True
    if a.endswith(PARTICLES) and not b.endswith(PARTICLES):
        return False
    if len(b) == 2:
        # 一欄 → 一覧: one kanji for another, the other letter kept, and nothing else said.
        return alone and len(a) == 2 and Levenshtein.distance(a, b) == 1 and all(map(_is_kanji, a + b))
    allowed = 1 if len(b) < 7 else 2
    return len(b) >= 3 and Levenshtein.distance(a, b, score_cutoff=allowed) <= allowed


@dataclass(frozen=True)
class Suggestion:
    text: str  # the corrected command, ready to send
    word: str  # the command word it starts with


def _best(typed: str, words: list[CommandWord], *, alone: bool) -> CommandWord | None:
    # Exact readings first, then the closest: 「困りこと」 is 困りごと, not a near 困り事.
    folded = fold(typed)
    exact = [w for w in words if fold(w.alias) == folded]
    if exact:
        return exact[0]
    close = [w for w in words if near(typed, w.alias, alone=alone)]
    return min(close, key=lambda w: Levenshtein.distance(folded, fold(w.alias)), default=None)


def suggest(registry: Registry, text: str, *, in_group: bool) -> Suggestion | None:
    """The command ``text`` was surely meant to be, or None (ordinary chat, or already a command)."""
    text = unicodedata.normalize("NFKC", text).strip()
    thread = THREAD_FORM.fullmatch(text)
    if thread:
        return _thread_command(registry, thread)
    first = FIRST_WORD.fullmatch(text)
    if first is None or len(first["head"]) > LONGEST_WORD:
        return None
    head, rest = first["head"], (first["rest"] or "").strip()
    if any(w.executes and w.alias.lower() == head.lower() for w in registry.words):
        return None  # the command itself, used otherwise ("会議 楽しみですね"): not a slip
    where = "group" if in_group else "user"
    words = [w for w in registry.words if w.where in ("any", where) and (w.takes_args or not rest)]
    found = _best(head, words, alone=not rest)
    if found is None:
        return None
    return Suggestion(f"{found.word} {rest}".strip(), found.word)


def verb_suggestion(registry: Registry, number: str, verb: str, rest: str) -> Suggestion | None:
    """``#12 かいけつ`` → ``#12 解決`` (called when the verb is not one the bot knows)."""
    aliases = [CommandWord(word, alias, True) for alias, word in registry.thread_verbs.items()]
    found = _best(verb, aliases, alone=not rest)
    if found is None:
        return None
    return Suggestion(f"#{number} {found.word} {rest}".strip(), f"#{number} {found.word}")


def _thread_command(registry: Registry, match: re.Match[str]) -> Suggestion | None:
    """「3 伝手 …」 (no #) or a slipped verb after a number."""
    number, verb, rest = match["n"], match["verb"], (match["rest"] or "").strip()
    if match["hash"]:
        return None  # ``#12 <verb>`` has a handler of its own, which asks here when the verb is unknown
    if verb in registry.thread_verbs:
        word = f"#{number} {registry.thread_verbs[verb]}"
        return Suggestion(f"{word} {rest}".strip(), word)
    return verb_suggestion(registry, number, verb, rest)
