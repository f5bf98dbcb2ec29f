"""Privacy guard: mask personal identifiers in a 困りごと before it is stored.

Approach
--------
1. **Normalise for matching only.** Every character of the original text is folded on its own
   (NFKC, any Unicode decimal digit to ASCII, invisible format characters dropped) and we keep,
   for each character of the folded text, the index of the original character it came from.
   Full-width digits, ``－``/``ｰ``, ideographic spaces, ``＠`` and ``〒８３０`` therefore look
   like their ASCII forms to the patterns, and a zero-width space cannot split a number.
2. **Find spans in the folded text.** One finder per kind; all of them are linear regular
   expressions (bounded repetitions, look-behinds so a match can only start at a run
   boundary) plus a little Python for names. Candidates are taken in priority order
   (e-mail, My Number, phone, postal code, birth date, address, name) and a candidate that
   overlaps an accepted span is dropped.
3. **Map spans back and replace in the original.** The rest of the original text is left
   exactly as written (full-width letters, odd hyphens, emoji).
4. **Repeat until nothing changes.** Placeholders are never matched again, so every further
   pass can only shrink the unmasked text; looping makes ``mask`` idempotent by construction
   instead of by hoping that one pass catches everything.

Names are the one kind that needs judgement: a word before さん/様/くん/ちゃん/氏/君/先生 is
masked unless it is in the curated stop-list in ``models/privacy_words`` terms below
(``_STOP_WORDS``, ``_STOP_SUFFIXES``, ``_HIRA_STOP``): roles, relations, organisations and set
phrases such as 民生委員さん, お母さん, 社協さん, お疲れ様, みなさん, たくさん.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

PHONE = "phone"
EMAIL = "email"
POSTAL_CODE = "postal_code"
ADDRESS = "address"
MY_NUMBER = "my_number"
BIRTH_DATE = "birth_date"
NAME = "name"

PLACEHOLDERS: dict[str, str] = {
    PHONE: "［電話番号］",
    EMAIL: "［メール］",
    POSTAL_CODE: "［郵便番号］",
    ADDRESS: "［住所］",
    MY_NUMBER: "［個人番号］",
    BIRTH_DATE: "［生年月日］",
    NAME: "［氏名］",
}

# A pathological input can at worst shrink by one placeholder per pass; real text settles in 1-2.
_MAX_PASSES = 10


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


def mask(text: str) -> Masked:
    """Return ``text`` with personal identifiers replaced by placeholders (see module docstring)."""
    kinds: list[str] = []
    for _ in range(_MAX_PASSES):
        text, found = _mask_once(text)
        if not found:
            break
        kinds.extend(kind for kind in found if kind not in kinds)
    return Masked(text, tuple(kinds))


# --- normalisation -------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    code = ord(ch)
    # Format characters (zero-width space, soft hyphen, bidi marks) and variation selectors
    # are invisible: a leak hidden by a ZWSP inside a phone number is still a leak.
    if unicodedata.category(ch) == "Cf" or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    return "".join(_ascii_digit(c) for c in folded)


def _ascii_digit(ch: str) -> str:
    value = unicodedata.decimal(ch, None)
    return ch if value is None else str(value)


def _fold(text: str) -> tuple[str, list[int] | None]:
    """Folded text and, per folded character, the index of its original character (None: identity)."""
    if text.isascii():
        return text, None
    parts: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        folded = _fold_char(ch)
        parts.append(folded)
        origin.extend([index] * len(folded))
    return "".join(parts), origin


# --- character classes and shared pieces ---------------------------------------------------

_H = r"[\-\u2010-\u2015\u2212\u2043\u30fc\ufe63\uff0d]"  # hyphens of every kind, after NFKC
_SP = r"[ \t]"
_KANJI = r"\u3005\u3006\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KNUM = r"[〇一二三四五六七八九十百千]"
_COUNTERS = "人名歳才時分秒日月年回件円個枚代度本冊台倍割点位%週"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("H", _H).replace("SP", _SP))


# --- e-mail, phone, My Number, postal code -------------------------------------------------

_EMAIL = _rx(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+SP?(?:@|\((?i:at)\)|\[(?i:at)\])SP?"
    r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)

# Between any two digits of a phone number: spaces, one hyphen or dot, or parentheses.
_PSEP = r"(?:SP{0,2}(?:[H.]|\)\(?|\()SP{0,2}|SP{1,2})"
_PHONE = _rx(
    rf"(?<![0-9])(?:\(SP?)?0(?:[5-9]0(?:{_PSEP}?[0-9]){{8}}|[0-9](?:{_PSEP}?[0-9]){{8}})(?![0-9])"
    rf"|\+SP?81SP?(?:\(SP?0SP?\)SP?|{_PSEP})?(?:[5-9]0(?:{_PSEP}?[0-9]){{8}}|[1-9](?:{_PSEP}?[0-9]){{8}})(?![0-9])"
)
# After 電話/TEL/携帯 even a local number without area code (30-1234) is a phone number.
_PHONE_CONTEXT = _rx(
    r"(?:電話|(?i:tel|fax)|携帯|ケータイ|けいたい|連絡先|ファックス|ファクス|[☎📞📱])(?:番号)?"
    rf"SP*(?:[:.]|は|番号)?SP*(?!(?:19|20)[0-9]{{2}}H)(\(?SP?[0-9](?:{_PSEP}?[0-9]){{5,11}})(?![0-9])"
)
_MY_NUMBER = _rx(r"(?<![0-9])[0-9]{4}(?:SP{1,2}|SP?HSP?)?[0-9]{4}(?:SP{1,2}|SP?HSP?)?[0-9]{4}(?![0-9])")
_POSTAL_SEP = r"(?:SP?HSP?|SP)?"
_POSTAL_MARKED = _rx(rf"〒SP*[0-9]{{3}}{_POSTAL_SEP}[0-9]{{4}}(?![0-9])")
_POSTAL_LABELLED = _rx(rf"(?:郵便番号|(?i:zip))SP*[:]?SP*([0-9]{{3}}{_POSTAL_SEP}[0-9]{{4}})(?![0-9])")
_POSTAL_BARE = _rx(
    rf"(?<![0-9.,/:])(?<!H)[0-9]{{3}}SP?HSP?[0-9]{{4}}(?![0-9]|SP?HSP?[0-9]|SP?[{_COUNTERS}])"
)

# --- birth date ----------------------------------------------------------------------------

_ERA = r"(?:明治|大正|昭和|平成|令和|[明大昭平令]|[MTSHRmtshr](?=[0-9]))"
_NUM2 = rf"(?:[0-9]{{1,2}}|{_KNUM}{{1,3}})"
_YEAR = rf"(?:{_ERA}SP?(?:{_NUM2}|元)|(?:18|19|20)[0-9]{{2}})SP?年"
_DATE = (
    rf"(?<![0-9])(?:{_YEAR}SP?{_NUM2}SP?月(?:SP?{_NUM2}SP?日)?|{_NUM2}SP?月SP?{_NUM2}SP?日"
    rf"|(?:{_ERA}SP?[0-9]{{1,2}}|(?:18|19|20)[0-9]{{2}})SP?[./H]SP?[0-9]{{1,2}}SP?[./H]SP?[0-9]{{1,2}}(?![0-9]))"
)
_BIRTH_BEFORE = _rx(
    rf"(?:生年月日|誕生日|生まれ|産まれ|うまれ|出生日?|生年|(?i:dob|d\.o\.b\.?))SP*(?:[:]|は|が)?SP*({_DATE})"
)
# 生 straight after a date means "born" unless it starts a word (4月1日生活 is "life").
_BIRTH_AFTER = _rx(rf"({_DATE})(?=SP?(?:生まれ|産まれ|うまれ|生(?![{_KANJI}])))")

# --- address -------------------------------------------------------------------------------

_AN = rf"(?:[0-9]{{1,4}}|{_KNUM}{{1,4}})"
_UNIT = r"(?:番地(?![元域区方帯点図球])|番(?![目組線手号台])|号)"
# A number with no unit must not be followed by another number or a kanji (3丁目5人, 3丁目10時).
_BARE = rf"(?![0-9〇一二三四五六七八九十百千万]|[{_KANJI}]|[ヶケカか]所)"
_SEG = rf"{_AN}(?:{_UNIT}|{_BARE})"
_CONN = r"(?:SP?(?:の|H)SP?|SP?)"
_ADDRESS = _rx(
    rf"(?<![0-9])(?:{_AN}丁目SP?H?SP?{_SEG}(?:{_CONN}{_SEG}){{0,3}}"
    rf"|{_AN}番地(?![元域区方帯点図球])(?:{_CONN}{_SEG}){{0,3}}"
    rf"|{_AN}番(?![目組線手号台])SP?{_AN}号(?:{_CONN}{_SEG}){{0,2}})"
)
# 本町2-3-4: hyphenated numbers count as an address only right after a place name (kanji),
# and not after words that introduce counts or ranges (第3-4回, 午前10-12時).
_DENY = "第約毎各計全前後週期間号問"
_ADDRESS_HYPHEN = _rx(
    rf"(?:(?<=[{_KANJI}])|(?<=[{_KANJI}]SP))(?<![{_DENY}])(?<![{_DENY}]SP)"
    rf"(?!(?:19|20)[0-9]{{2}}(?![0-9]))[0-9]{{1,4}}(?:SP?HSP?[0-9]{{1,4}}){{1,3}}"
    rf"(?![0-9]|SP?HSP?[0-9]|SP?[{_COUNTERS}]|[月火水木金土日]曜|SP?[:/.][0-9])"
)

# --- finders -------------------------------------------------------------------------------

Span = tuple[int, int]


def _spans(pattern: re.Pattern[str], norm: str, group: int = 0) -> Iterator[Span]:
    for match in pattern.finditer(norm):
        yield match.span(group)


def _find_email(norm: str) -> Iterator[Span]:
    if "@" in norm or "at" in norm.lower():
        yield from _spans(_EMAIL, norm)


def _find_phone(norm: str) -> Iterator[Span]:
    yield from _spans(_PHONE, norm)
    yield from _spans(_PHONE_CONTEXT, norm, 1)


def _find_my_number(norm: str) -> Iterator[Span]:
    yield from _spans(_MY_NUMBER, norm)


def _find_postal(norm: str) -> Iterator[Span]:
    yield from _spans(_POSTAL_MARKED, norm)
    yield from _spans(_POSTAL_LABELLED, norm, 1)
    yield from _spans(_POSTAL_BARE, norm)


def _find_birth(norm: str) -> Iterator[Span]:
    yield from _spans(_BIRTH_BEFORE, norm, 1)
    yield from _spans(_BIRTH_AFTER, norm, 1)


def _find_address(norm: str) -> Iterator[Span]:
    yield from _spans(_ADDRESS, norm)
    yield from _spans(_ADDRESS_HYPHEN, norm)


def _find_name(norm: str) -> Iterator[Span]:
    from models.privacy_names import find_names

    yield from find_names(norm)


_FINDERS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    (EMAIL, _find_email),
    (MY_NUMBER, _find_my_number),
    (PHONE, _find_phone),
    (POSTAL_CODE, _find_postal),
    (BIRTH_DATE, _find_birth),
    (ADDRESS, _find_address),
    (NAME, _find_name),
)

_PLACEHOLDER_RX = re.compile(
    "|".join(re.escape(unicodedata.normalize("NFKC", p)) for p in PLACEHOLDERS.values())
)


# --- one pass ------------------------------------------------------------------------------


def _mask_once(text: str) -> tuple[str, list[str]]:
    norm, origin = _fold(text)
    taken = bytearray(len(norm))
    for start, end in _spans(_PLACEHOLDER_RX, norm):
        taken[start:end] = b"\x01" * (end - start)
    accepted: list[tuple[int, int, str]] = []
    for kind, finder in _FINDERS:
        for start, end in finder(norm):
            if start < end and taken.find(1, start, end) == -1:
                taken[start:end] = b"\x01" * (end - start)
                accepted.append((start, end, kind))
    if not accepted:
        return text, []
    accepted.sort()
    return _replace(text, [(*_to_original(s, e, origin), kind) for s, e, kind in accepted])


def _to_original(start: int, end: int, origin: list[int] | None) -> Span:
    if origin is None:
        return start, end
    return origin[start], origin[end - 1] + 1


def _replace(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[str]]:
    out: list[str] = []
    kinds: list[str] = []
    cursor = 0
    for start, end, kind in spans:
        # One original character can fold into several (⑫ -> 12): neighbouring spans may touch it.
        if start < cursor:
            cursor = max(cursor, end)
            continue
        out.append(text[cursor:start])
        out.append(PLACEHOLDERS[kind])
        if kind not in kinds:
            kinds.append(kind)
        cursor = end
    out.append(text[cursor:])
    return "".join(out), kinds
