"""Privacy guard: mask personal identifiers in a 困りごと before it is stored.

Approach
--------
1. **Normalise for matching only.** Every character of the original text is folded on its own
   (NFKC, any Unicode decimal digit to ASCII, invisible format characters dropped) and we keep,
   for each character of the folded text, the index of the original character it came from.
   Full-width digits, ``－``/``ｰ``, ideographic spaces, ``＠`` and ``〒８３０`` therefore look
   like their ASCII forms to the patterns, and a zero-width space cannot split a number.
2. **Find spans in the folded text.** One finder per kind; all of them are linear regular
   expressions (no nested quantifiers, look-behinds so that a match can only start at a run
   boundary) plus a little Python for names. Candidates are taken in priority order
   (e-mail, phone, My Number, postal code, birth date, address, name) and a candidate that
   overlaps an accepted span is dropped.
3. **Map spans back and replace in the original.** The rest of the original text is left
   exactly as written (full-width letters, odd hyphens, emoji).
4. **Repeat until nothing changes.** Placeholders are never matched again, so every further
   pass can only shrink the unmasked text; looping makes ``mask`` idempotent by construction
   instead of by hoping that one pass catches everything. Decisions never depend on text that
   a placeholder may replace (see ``_context_honorific``), so the loop stops after two passes
   even on adversarial input.

Names are the one kind that needs judgement: a word before さん/様/くん/ちゃん/氏/君/先生 is
masked unless the curated stop-lists below (``_STOP_WORDS``, ``_STOP_SUFFIXES``, ``_HIRA_STOP``)
say it is a role, a relation, an organisation or a set phrase: 民生委員さん, お母さん, 社協さん,
〇〇センター様, お疲れ様, みなさん, たくさん. The honorific itself stays (［氏名］さん).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, repeat

PHONE = "phone"
EMAIL = "email"
POSTAL_CODE = "postal"
ADDRESS = "address"
MY_NUMBER = "mynumber"
BIRTH_DATE = "birthdate"
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

# Real posts settle in one pass, fuzzed gibberish (君 山君 山君) in two. Ten is a safe bound
# that keeps the worst case linear.
_MAX_PASSES = 10


@dataclass(frozen=True)
class Masked:
    """The text to store and the kinds of identifier that were masked in it."""

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


class _FoldCache(dict[str, str]):
    """Per-character fold, memoised so that ``map`` runs at C speed over long posts."""

    def __missing__(self, ch: str) -> str:
        if len(self) > 65536:  # every code point seen would otherwise stay for the process's life
            self.clear()
        folded = self[ch] = _fold_char(ch)
        return folded


_FOLDED = _FoldCache()


def _fold(text: str) -> tuple[str, list[int] | None]:
    """Folded text and, per folded character, the index of its original character (None: identity)."""
    if text.isascii():
        return text, None
    pieces = list(map(_FOLDED.__getitem__, text))
    lengths = list(map(len, pieces))
    if min(lengths) == max(lengths) == 1:
        return "".join(pieces), None
    return "".join(pieces), list(chain.from_iterable(map(repeat, range(len(text)), lengths)))


# --- character classes and shared pieces ---------------------------------------------------

_HYPHENS = r"\-\u2010-\u2015\u2212\u2043\u30fc\ufe63\uff0d"  # every hyphen and dash, after NFKC
_KANJI = r"\u3005\u3006\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KNUM = r"[〇一二三四五六七八九十百千]"
_COUNTERS = "人名歳才時分秒日月年回件円個枚代度本冊台倍割点位%週"


def _rx(pattern: str) -> re.Pattern[str]:
    """Compile with shorthands: <H> one hyphen, <h> hyphens inside a class, <S> a space or tab."""
    return re.compile(pattern.replace("<H>", f"[{_HYPHENS}]").replace("<h>", _HYPHENS).replace("<S>", "[ \t]"))


# --- e-mail, phone, My Number, postal code -------------------------------------------------

_EMAIL = _rx(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+<S>?(?:@|\((?i:at)\)|\[(?i:at)\])<S>?"
    r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
)

# Between any two digits of a phone number: spaces, one hyphen, dot or ・, or parentheses.
# An opening parenthesis belongs to the number only around the area code: (0942)30-1234.
_PSEP = r"(?:<S>{0,2}(?:[<h>.・]|\)\(?|\()<S>{0,2}|<S>{1,2})"
_PHONE = _rx(
    rf"(?<![0-9])(?:\(<S>?(?=0[0-9]{{1,4}}<S>?\)))?0(?:[5-9]0(?:{_PSEP}?[0-9]){{8}}|[0-9](?:{_PSEP}?[0-9]){{8}})(?![0-9])"
    rf"|\+<S>?81<S>?(?:\(<S>?0<S>?\)<S>?|{_PSEP})?(?:[5-9]0(?:{_PSEP}?[0-9]){{8}}|[1-9](?:{_PSEP}?[0-9]){{8}})(?![0-9])"
)
# After 電話/TEL/携帯 even a local number without area code (30-1234) is a phone number.
_PHONE_CONTEXT = _rx(
    r"(?:電話|(?i:tel|fax)|携帯|ケータイ|けいたい|連絡先|ファックス|ファクス|[☎📞📱])(?:番号)?"
    rf"<S>*+(?:[:.]|は|番号)?<S>*+(?!(?:19|20)[0-9]{{2}}<H>)(\(?[0-9](?:{_PSEP}?[0-9]){{5,11}})(?![0-9])"
)
# Vertical-writing habit: 〇九〇-一二三四-五六七八. Kanji digits are not folded globally because
# they also spell names (一郎) and addresses (三丁目), so they get their own pattern.
_KD = "[〇零一二三四五六七八九]"
_PHONE_KANJI = _rx(
    rf"(?<![〇零一二三四五六七八九十])[〇零](?:[五六七八九][〇零](?:{_PSEP}?{_KD}){{8}}|{_KD}(?:{_PSEP}?{_KD}){{8}})"
    r"(?![〇零一二三四五六七八九十])"
)
_MY_NUMBER = _rx(r"(?<![0-9])[0-9]{4}(?:<S>{1,2}|<S>?<H><S>?)?[0-9]{4}(?:<S>{1,2}|<S>?<H><S>?)?[0-9]{4}(?![0-9])")
_POSTAL_SEP = r"(?:<S>?<H><S>?|<S>)?"
_POSTAL_MARKED = _rx(rf"〒<S>*[0-9]{{3}}{_POSTAL_SEP}[0-9]{{4}}(?![0-9])")
_POSTAL_LABELLED = _rx(rf"(?:郵便番号|(?i:zip))<S>*[:]?<S>*([0-9]{{3}}{_POSTAL_SEP}[0-9]{{4}})(?![0-9])")
_POSTAL_BARE = _rx(
    rf"(?<![0-9.,/:])(?<!<H>)[0-9]{{3}}<S>?<H><S>?[0-9]{{4}}(?![0-9]|<S>?<H><S>?[0-9]|<S>?[{_COUNTERS}])"
)

# --- birth date ----------------------------------------------------------------------------

_ERA = r"(?:明治|大正|昭和|平成|令和|[明大昭平令]|[MTSHRmtshr](?=[0-9]))"
_NUM2 = rf"(?:[0-9]{{1,2}}|{_KNUM}{{1,3}})"
_YEAR = rf"(?:{_ERA}<S>?(?:{_NUM2}|元)|(?:18|19|20)[0-9]{{2}})<S>?年"
_DATE = (
    rf"(?<![0-9])(?:{_YEAR}<S>?{_NUM2}<S>?月(?:<S>?{_NUM2}<S>?日)?|{_NUM2}<S>?月<S>?{_NUM2}<S>?日"
    rf"|(?:{_ERA}<S>?[0-9]{{1,2}}|(?:18|19|20)[0-9]{{2}})<S>?[./<h>]<S>?[0-9]{{1,2}}<S>?[./<h>]<S>?[0-9]{{1,2}}(?![0-9]))"
)
_BIRTH_BEFORE = _rx(
    rf"(?:生年月日|誕生日|生まれ|産まれ|うまれ|出生日?|生年|(?i:dob|d\.o\.b\.?))<S>*(?:[:]|は|が)?<S>*({_DATE})"
)
# 生 straight after a date means "born" unless it starts a word (4月1日生活 is "life").
_BIRTH_AFTER = _rx(rf"({_DATE})(?=<S>?(?:生まれ|産まれ|うまれ|生(?![{_KANJI}])))")

# --- address -------------------------------------------------------------------------------

_AN = rf"(?:[0-9]{{1,4}}|{_KNUM}{{1,4}})"
_UNIT = r"(?:番地(?![元域区方帯点図球])|番(?![目組線手号台])|号室?)"
# A number with no unit must not be followed by another number or a kanji (3丁目5人, 3丁目10時).
_BARE = rf"(?![0-9〇一二三四五六七八九十百千万]|[{_KANJI}]|[ヶケカか]所)"
_SEG = rf"{_AN}(?:{_UNIT}|{_BARE})"
_CONN = r"(?:<S>?(?:の|<H>)<S>?|<S>?)"
_ADDRESS = _rx(
    rf"(?<![0-9])(?:{_AN}丁目<S>?<H>?<S>?{_SEG}(?:{_CONN}{_SEG}){{0,3}}"
    rf"|{_AN}番地(?![元域区方帯点図球])(?:{_CONN}{_SEG}){{0,3}}"
    rf"|{_AN}番(?![目組線手号台])<S>?{_AN}号(?:{_CONN}{_SEG}){{0,2}}"
    rf"|{_AN}号棟(?:{_CONN}{_AN}号室)?|{_AN}号室)"
)
# 本町2-3-4: hyphenated numbers count as an address only right after a place name (kanji),
# and not after words that introduce counts, ranges or numbering (第3-4回, 午前10-12時, 資料1-2).
_DENY = "第約毎各計全前後週期間号問料題紙式表図章節条項版巻頁例案護援級"
_ADDRESS_HYPHEN = _rx(
    rf"(?:(?<=[{_KANJI}])|(?<=[{_KANJI}]<S>))(?<![{_DENY}])(?<![{_DENY}]<S>)"
    rf"(?!(?:19|20)[0-9]{{2}}(?![0-9]))[0-9]{{1,4}}(?:<S>?<H><S>?[0-9]{{1,4}}){{1,3}}(?:号室?)?"
    rf"(?![0-9]|<S>?<H><S>?[0-9]|<S>?[{_COUNTERS}]|[月火水木金土日]曜|<S>?[:/.][0-9])"
)

# --- finders -------------------------------------------------------------------------------

Span = tuple[int, int]


def _spans(pattern: re.Pattern[str], norm: str, group: int = 0) -> Iterator[Span]:
    for match in pattern.finditer(norm):
        yield match.span(group)


def _find_email(norm: str) -> Iterator[Span]:
    if _mentions(norm, ("@", "at", "AT", "At", "aT")):
        yield from _spans(_EMAIL, norm)


def _find_phone(norm: str) -> Iterator[Span]:
    yield from _spans(_PHONE, norm)
    yield from _spans(_PHONE_CONTEXT, norm, 1)
    yield from _spans(_PHONE_KANJI, norm)


def _find_my_number(norm: str) -> Iterator[Span]:
    yield from _spans(_MY_NUMBER, norm)


def _find_postal(norm: str) -> Iterator[Span]:
    yield from _spans(_POSTAL_MARKED, norm)
    yield from _spans(_POSTAL_LABELLED, norm, 1)
    yield from _spans(_POSTAL_BARE, norm)


def _find_birth(norm: str) -> Iterator[Span]:
    # The pattern reads "dob" in any case (Dob, d.o.b): so must its pre-check.
    if _mentions(norm, ("生", "誕", "うまれ")) or _mentions(norm.lower(), ("dob", "d.o.b")):
        yield from _spans(_BIRTH_BEFORE, norm, 1)
        yield from _spans(_BIRTH_AFTER, norm, 1)


def _find_address(norm: str) -> Iterator[Span]:
    if _mentions(norm, ("丁目", "番", "号")):
        yield from _spans(_ADDRESS, norm)
    yield from _spans(_ADDRESS_HYPHEN, norm)


def _mentions(norm: str, needles: tuple[str, ...]) -> bool:
    """Cheap pre-check so that posts without a keyword skip a whole pattern."""
    return any(needle in norm for needle in needles)


# --- names ---------------------------------------------------------------------------------
# The stop-lists are curated from how the field writes: roles (民生委員さん, ケアマネさん),
# relations (お母さん, 娘さん), organisations (社協さん, 〇〇センター様), set phrases (お疲れ様,
# ご苦労様, たくさん, みなさん) and time words that precede ちゃんと (毎日ちゃんと). A run of
# kanji/katakana before an honorific is kept if it is one of _STOP_WORDS or ends with one of
# _STOP_SUFFIXES; a leading stop word (民生委員山田さん) is cut off and the rest masked.
_STOP_WORDS = frozenset(
    """
    皆 皆々 客 神 仏 王 殿 姫 同 異 模 仕 多 一 有 無 上 外 貴 各 何 今 左 右 此 其 斯 諸 若 奥 子
    娘 息子 孫 嫁 婿 夫 妻 婆 爺 姑 舅 坊 嬢 赤 隣 近所 向 家 自宅 公園 駅 店 寺 宮 人 方 先生
    大家 大工 旦那 主人 本人 先方 相手 苦労 世話 陰 馳走 愁傷 毒 得意 粗末 生憎 遠 日 月 天道
    地蔵 観音 釈迦 天神 先祖 親御 自分 本当 全員 全部 今日 昨日 明日 本日 先日 先週 今週 来週
    先月 今月 来月 今朝 今晩 今夜 昨夜 毎日 毎週 毎朝 毎晩 毎回 最近 今度 今回 前回 次回 以前
    当日 翌日 前日 午前 午後 夕方 週末 月末 年末 年始 地域 地区 町内 校区 近隣 一家 兄弟 姉妹
    夫婦 両親 親戚 親類 子供 師匠 先輩 後輩 上司 部下 同僚 友達 親友 友 郵便 新聞 宅配
    """.split()
)
# Single kanji that end role or organisation words (利用者, 相談員, 協議会, 連絡先, 主治医, 家主,
# 運転手, 整骨院, 〇〇組). They are checked on the whole run only, since given names hide them in
# the middle (田中婦美子), and 屋, 所, 部 are not among them because of 土屋, 田所, 阿部.
_STOP_ENDINGS = tuple("者員会協課係署庁局先医師婦主手親母父姉兄妹弟孫嫁院園館店堂社組")
_STOP_SUFFIXES = tuple(
    """
    家族 委員 会長 区長 班長 組長 校長 園長 所長 部長 課長 係長 社長 店長 院長 館長 局長 署長
    町長 市長 村長 議長 隊長 団長 室長 次長 理事長 施設長 事務長 駅長 塾長 寮長 学長 センター長
    管理人 後見人 主人 本人 友人 知人 住人 隣人 保証人 代理人 世話人 老人 婦人 外国人 個人 法人
    他人 大人 家人 職人 証人 病人 恋人 役人 保育士 介護士 福祉士 弁護士 書士 税理士 療法士
    栄養士 会計士 消防士 事業所 事務所 役所 研究所 相談所 保健所 診療所 支所 出張所 営業所
    保育所 派出所 交番 教室 相談室 事務室 保健室 病院 医院 薬局 学校 高校 大学 学園 保育園
    幼稚園 公民館 図書館 会館 体育館 児童館 食堂 会社 商店 書店 支店 本店 神社 銀行 包括 社協
    行政 役場 施設 警察 消防 組合 財団 社団 劇団 自治体 担当 担任 主任 教頭 代表 理事 民生
    八百屋 魚屋 肉屋 本屋 花屋 酒屋 米屋 薬屋 床屋 電気屋 不動産屋 郵便屋 便利屋 新聞屋
    パン屋 ケーキ屋 ママ友 ケアマネ ケアマネージャー ケアマネジャー ヘルパー ボランティア スタッフ
    ドライバー リーダー マネージャー マネジャー オーナー メンバー ママ パパ ワーカー サポーター
    コーディネーター カウンセラー ナース ドクター センター ステーション クリニック ハウス ホーム
    サロン カフェ ショップ ストア スーパー ネットワーク グループ チーム クラブ サークル オフィス
    ケア サービス デイ ショート ファミリー パート バイト シッター ホスト ゲスト ユーザー パートナー
    看護 介護 支援 相談 福祉 保健 医療 訪問 配食 居宅 基幹 自立 児相 学童 ガス屋 水道屋 ステイ
    コンビニ タクシー サポート ファミサポ ボラセン ハローワーク
    """.split()
)
# Kana or katakana right after an organisation word is the organisation's own name
# (子ども食堂ひまわりさん, NPO法人ヒダマリさん), not a person.
_ORG_SUFFIXES = tuple(
    """
    会 協 法人 食堂 センター 施設 事業所 事務所 病院 医院 薬局 学校 学園 保育園 幼稚園 公民館 会館
    会社 商店 組合 財団 社団 団体 クラブ サークル グループ チーム カフェ サロン ハウス ホーム
    ステーション クリニック ショップ ネットワーク
    """.split()
)
# 久留米市さん is the city office, but 高市さん is a person: a place suffix counts from 3 characters.
_PLACE_ENDINGS = tuple("市町村区県")
# Hiragana runs are checked whole, after particles are cut away (隣のおばあさん -> おばあ).
_HIRA_STOP = frozenset(
    """
    みな みんな たく おばあ おじい ばあ じい おかあ おとう かあ とう おねえ おにい ねえ にい おば
    おじ あか おく おこ おきゃく きゃく おいしゃ いしゃ おまわり だいく おとなり となり ごきんじょ
    きんじょ おむかい むかい かい おつかれ つかれ ごくろう くろう おかげ ごちそう ちそう おたがい
    たがい おまちどお おせわ おそまつ おきのどく ごしゅうしょう ありがと おひ おつき かみ ほとけ
    おうじ おひめ もっと ずっと きっと ちょっと やっと そっと いつも まだ もう でも それでも ほんと
    ほんとう まいにち いっぱい おじょう ぼっ おぼっ おっ あん よめ およめ むこ おむこ まご おまご
    むすめ むすこ おっと だんな ごしゅじん しゅじん かぞく ごかぞく りょうしん ごりょうしん
    おとしより としより ごふうふ せんせい かんごし へるぱー けあまね おおや ほんにん ごほんにん
    """.split()
)
# Stop words after which the kanji before the particle is not someone's family name.
_NOT_KIN = frozenset({"たく"})
_PARTICLES = "のがはをにへとでやも"
_NEVER_INITIAL = "がをにへで"  # particles no given name starts with
_NEVER_FINAL = "をはがへでにもや"  # a 3+ kana run ending so is a phrase (みんなで, ごはんを)

_KANA_AFTER = "がはのにともへをやかよねなだでたらっじまこしさわち"
# After a kana honorific only a particle, ち (木村さんち: their home) or a non-kana may follow:
# さんぽ, さまざま, くんせい are words. 様 and 氏 also start words (様子, 様々, 氏名, 氏家); 君
# starts 君主 and ends 君子.
_KANA_HON = rf"(?:さん|さま|ちゃん|くん)(?=[{_KANA_AFTER}]|[^\u3041-\u309f]|$)"
_SAMA_WORDS = "子々式態相変"
_KANJI_HON = r"氏(?![名族家])|君(?![主臨子])|先生"
_K_HON = re.compile(_KANJI_HON)
_HON = rf"(?:{_KANA_HON}|様(?![{_SAMA_WORDS}])|{_KANJI_HON})"
# Kanji without 様 (never part of a name, so 山田様佐藤様 splits) plus katakana and 々.
_K = (
    r"\u3005\u3006\u3400-\u4dbf\u4e00-\u69d7\u69d9-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    r"\u30a1-\u30fa\u30fc\u30fb\u30fd\u30fe\u3099-\u309c"
)
_HIRA = r"\u3041-\u3096\u309d\u309e\u30fc\u3099-\u309c"
_K_CHAR = re.compile(rf"[{_K}]")
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc\u30fb\u3099-\u309c]+")
_HIRA_CHARS = frozenset(chr(c) for c in range(0x3041, 0x309F))
# A whole kanji/katakana run up to its last honorific (山田君佐藤君 is one run, masked as one).
# Whole runs rather than windows keep a second pass from finding what the first one cut differently.
_NAME_K = _rx(rf"(?<![{_K}])(?P<run>[{_K}]+)(?=<S>?{_HON})")
# 山田 花子さん: a short run just before the name, split by one space, is the family name. It is
# looked up, not consumed, so that run is still judged on its own when an honorific follows it.
_FAMILY_NAME = _rx(rf"(?<![{_K}])[{_K}]{{1,4}}<S>$")
_KANA_HON_RX = re.compile(_KANA_HON)
_NAME_HIRA = _rx(rf"(?P<run>[{_HIRA}]{{1,12}}?)(?=<S>?{_KANA_HON})")
_LATIN_LETTER = re.compile("[A-Za-z]")
_NAME_LATIN = _rx(
    rf"(?<![A-Za-z])(?:(?P<pre>[A-Z][a-z]{{1,39}})<S>)?(?P<run>[A-Za-z]{{1,40}})(?=<S>?{_HON})"
    r"|(?<![A-Za-z])(?P<romaji>[A-Z][a-z]{1,39})-(?:san|sama|kun|chan)(?![A-Za-z])"
)


def _is_stop(word: str) -> bool:
    return (
        word in _STOP_WORDS
        or word.endswith(_STOP_SUFFIXES)
        or word.endswith(_STOP_ENDINGS)
        or (len(word) >= 3 and word.endswith(_PLACE_ENDINGS))
    )


def _stop_prefix(run: str) -> int:
    """Length of a leading role or time word (民生委員山田 -> 4), leaving a 2-8 character name."""
    for cut in range(len(run) - 2, max(1, len(run) - 9), -1):
        head = run[:cut]
        # Never inside one katakana word: デイビッド is David, not デイ + ビッド.
        if _KATAKANA.fullmatch(run[cut - 1 : cut + 1]):
            continue
        if head in _STOP_WORDS or head.endswith(_STOP_SUFFIXES):
            return cut
    return 0


def _find_name(norm: str) -> Iterator[Span]:
    spans = [span for match in _NAME_K.finditer(norm) for span in _kanji_names(match)]
    spans += [_hiragana_name(norm, *match.span("run")) for match in _NAME_HIRA.finditer(norm)]
    if _LATIN_LETTER.search(norm):
        spans += [_latin_name(match) for match in _NAME_LATIN.finditer(norm)]
    return (span for span in spans if span)


def _kanji_names(match: re.Match[str] | None) -> Iterator[Span]:
    """The name in a run and, when a leading role word is kept (民生委員山田さん), any name that
    part still holds: a later pass would see it once the placeholder follows, so find it now."""
    while match:
        span = _kanji_name(match)
        if not span or span[0] <= match.start():
            if span:
                yield span
            return
        yield span
        match = _NAME_K.search(match.string, match.start(), span[0])


def _context_honorific(norm: str, start: int) -> int:
    """Characters at ``start`` that decide whether the text before is an honorific.

    They stay unmasked, or masking them would change that decision in the next pass:
    様子田中氏 (子 makes 様 a word) and 員 氏家さん (氏 is the honorific of 員).
    """
    if start > 0 and norm[start - 1] == "様" and norm[start : start + 1] in _SAMA_WORDS:
        return 1
    # A placeholder counts as the name it replaced, so the decision is the same in every pass.
    if start > 1 and norm[start - 1] in " \t" and (_K_CHAR.match(norm[start - 2]) or norm[start - 2] == "]"):
        honorific = _K_HON.match(norm, start)
        return honorific.end() - start if honorific else 0
    return 0


def _kanji_name(match: re.Match[str]) -> Span | None:
    norm, (start, end) = match.string, match.span("run")
    run = norm[start:end]
    lead = len(run) - len(run.lstrip("・ー"))
    lead += _context_honorific(norm, start + lead)
    start, run = start + lead, run[lead:]
    if not run or _is_stop(run):
        return None
    cut = _stop_prefix(run)
    if cut:
        org_name = run[:cut].endswith(_ORG_SUFFIXES) and _KATAKANA.fullmatch(run[cut:])
        return None if org_name else (start + cut, end)
    family = _FAMILY_NAME.search(norm, max(0, start - 5), start)
    if family and not _is_stop(family.group()[:-1]) and not _context_honorific(norm, family.start()):
        return family.start(), end
    return start, end


def _hiragana_name(norm: str, start: int, end: int) -> Span | None:
    run = norm[start:end]
    # 山田さんとはなこちゃん: the run may begin after another honorific.
    # The same honorific test as the pattern, so one more character of context is needed.
    inside = _KANA_HON_RX.finditer(norm[start : end + 1])
    after_honorific = max((m.end() for m in inside if m.end() <= len(run)), default=0)
    start, run = start + after_honorific, run[after_honorific:]
    # A run that starts right after other kana follows an earlier honorific (ゆいちゃんとはなこちゃん).
    bounded = after_honorific > 0 or (start > 0 and norm[start - 1] in _HIRA_CHARS)
    if len(run) > 4:  # a long kana run is a phrase: keep what follows its last particle
        last = max(run.rfind(p) for p in _PARTICLES)
        if 0 <= last <= len(run) - 3:
            start, run, bounded = start + last + 1, run[last + 1 :], True
    if not 2 <= len(run) <= 5:
        return None
    kanji_start = start if bounded else _kanji_run_start(norm, start)
    kanji = norm[kanji_start:start]
    if kanji.endswith(_ORG_SUFFIXES):
        return None
    if run[0] in _PARTICLES and run[1:] in _HIRA_STOP:  # 山田のおばあさん: only 山田 is a name
        # ...but たくさん is "many": 社会資源をたくさん names no one.
        about_someone = kanji and not _is_stop(kanji) and run[1:] not in _NOT_KIN
        return (kanji_start + _stop_prefix(kanji), start) if about_someone else None
    if (bounded or _is_stop(kanji) or run[0] in _NEVER_INITIAL) and run[0] in _PARTICLES and len(run) >= 3:
        start, run, kanji = start + 1, run[1:], ""
    if run in _HIRA_STOP or (len(run) >= 3 and run[-1] in _NEVER_FINAL):
        return None
    if not kanji or _is_stop(kanji):
        return start, end
    return kanji_start + _stop_prefix(kanji), end  # 山田はるかさん: kanji family name, kana given name


def _kanji_run_start(norm: str, pos: int, limit: int = 8) -> int:
    start = pos
    while start > 0 and pos - start < limit and _K_CHAR.match(norm[start - 1]):
        start -= 1
    return start


def _latin_name(match: re.Match[str]) -> Span | None:
    if match.group("romaji"):
        return match.span("romaji")
    run = match.group("run")
    if run.isupper():  # Aさん, NPOさん, CSWさん: an anonymised letter or an acronym
        return None
    start = match.start("pre") if match.group("pre") else match.start("run")
    return start, match.end("run")


_FINDERS: tuple[tuple[str, Callable[[str], Iterator[Span]]], ...] = (
    (EMAIL, _find_email),
    (PHONE, _find_phone),
    (MY_NUMBER, _find_my_number),
    (POSTAL_CODE, _find_postal),
    (BIRTH_DATE, _find_birth),
    (ADDRESS, _find_address),
    (NAME, _find_name),
)

_PLACEHOLDER_RX = re.compile("|".join(re.escape(unicodedata.normalize("NFKC", p)) for p in PLACEHOLDERS.values()))


# --- one pass ------------------------------------------------------------------------------


def _mask_once(text: str) -> tuple[str, list[str]]:
    norm, origin = _fold(text)
    taken = bytearray(len(norm))
    for start, end in _spans(_PLACEHOLDER_RX, norm):
        taken[start:end] = b"\x01" * (end - start)
    accepted: list[tuple[int, int, str]] = []
    for kind, finder in _FINDERS:
        # Within a kind, the earliest and then longest candidate wins (3-5-12-201号室 over 201号室).
        for start, end in sorted(finder(norm), key=lambda span: (span[0], -span[1])):
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
