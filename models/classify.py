"""Guessing a trouble's 分野 and 地区 from its text; the poster corrects with one tap.

A keyword list is enough here: the guess only saves a tap, and a wrong guess is one
quick reply away from right. The first category mentioned is the main one.
"""

from __future__ import annotations

import unicodedata

CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "高齢": (
        "高齢",
        "介護",
        "認知症",
        "独居",
        "お年寄り",
        "年金",
        "デイサービス",
        "ケアマネ",
        "老老",
        "8050",
        "80代",
        "90代",
    ),
    "障害": ("障害", "障がい", "車いす", "車椅子", "発達", "手帳", "視覚", "聴覚", "精神"),
    "子ども": (
        "子ども",
        "子供",
        "こども",
        "子育て",
        "不登校",
        "学校",
        "保育",
        "ヤングケアラー",
        "ひとり親",
        "育児",
        "児童",
    ),
    "困窮": ("困窮", "生活費", "食料", "食べ物", "滞納", "借金", "生活保護", "お金", "ライフライン", "電気が止"),
    "住まい": ("住まい", "住宅", "家賃", "ゴミ屋敷", "ごみ屋敷", "引っ越し", "引越", "大家", "住む場所", "退去"),
    "仕事": ("仕事", "就労", "失業", "求職", "働", "職場", "アルバイト", "解雇"),
    "健康": ("通院", "病院", "健康", "服薬", "治療", "入院", "体調", "医療", "受診"),
    "孤立": ("孤立", "ひきこもり", "引きこもり", "孤独", "閉じこもり", "話し相手", "つながりがない", "見守り"),
}


def guess_category(text: str) -> str:
    normalised = unicodedata.normalize("NFKC", text)
    best: tuple[int, str] | None = None
    for category, words in CATEGORY_KEYWORDS.items():
        positions = [normalised.find(word) for word in words if word in normalised]
        if positions and (best is None or min(positions) < best[0]):
            best = (min(positions), category)
    return best[1] if best else "その他"


def guess_categories(text: str, limit: int = 4) -> list[str]:
    """Every 分野 the text mentions, the first mentioned first (the main one); その他 when none."""
    normalised = unicodedata.normalize("NFKC", text)
    found = []
    for category, words in CATEGORY_KEYWORDS.items():
        positions = [normalised.find(word) for word in words if word in normalised]
        if positions:
            found.append((min(positions), category))
    return [category for _, category in sorted(found)][:limit] or ["その他"]


def guess_area(text: str, areas: list[str]) -> str | None:
    normalised = unicodedata.normalize("NFKC", text)
    found = [(normalised.find(a), a) for a in areas if a and a in normalised]
    return min(found)[1] if found else None
