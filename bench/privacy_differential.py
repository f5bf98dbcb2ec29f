"""Which texts does each surviving privacy mutant mask differently? (after bench/mutation.py privacy)

    .venv/bin/python bench/mutation.py privacy          # leaves mutants/ with every mutant of privacy.py
    .venv/bin/python bench/privacy_differential.py      # each survivor against the original, text by text

A survivor that masks no text differently over the corpus is listed with that evidence in
bench/results/mutation.json; one that does gives the input for a new case in tests/test_privacy.py.
The corpus: every sentence of ../shared/seeds (what the field writes), the inputs of
tests/test_privacy.py, and names written in many contexts (roles, times, particles, honorifics).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"

KANJI = "山田 田中花子 佐藤 鈴木一郎 高橋 木村 氏家 様子 民生委員山田 社協 中央区 ボランティア".split()
KANA = "はなこ たろう ゆい はるか あや おばあ みんなで ごはんを すずきはなこ とはなこ のおばあ".split()
KATAKANA = "デイビッド マリア サポートセンター ケアマネ".split()
HONORIFICS = ["さん", "様", "氏", "君", "先生", "ちゃん", "くん", "さま", " さん", "さんが", "さんの", "さんち"]
BEFORE = ["", "昨日", "民生委員の", "民生委員", "きのう", "会長 ", "員 ", "様子", "と", "A ", "ケアマネの"]
BEFORE += ["山田さんと"]


def corpus() -> list[str]:
    texts: set[str] = set()
    for seed in sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []:
        sentences = (part.strip() for part in re.split(r"[。\n]", seed.read_text(encoding="utf-8")))
        texts.update(s for s in sentences if 2 <= len(s) <= 200)
    cases = (REPO / "tests" / "test_privacy.py").read_text(encoding="utf-8")
    texts.update(m.group(1) for m in re.finditer(r'\(\s*"([^"\\]*)",\s*"([^"\\]*)"', cases))
    for before, name, honorific in itertools.product(BEFORE, KANJI + KANA + KATAKANA, HONORIFICS):
        texts.update({f"{before}{name}{honorific}", f"{before}{name}{honorific}から連絡"})
    for kanji, kana in itertools.product(KANJI, KANA):
        texts.update({f"{kanji}{kana}さん", f"{kanji}の{kana}さん", f"{kana}ちゃんと{kanji}さん"})
    return sorted(texts)


def main() -> int:
    results = json.loads((REPO / "bench" / "results" / "mutation.json").read_text())
    survivors = [n for n in results["modules"]["models/privacy.py"]["survivors"] if "_rx__" not in n]
    if not (REPO / "mutants" / "models" / "privacy.py").exists():
        print("run bench/mutation.py privacy first (it leaves mutants/)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "mutants"))
    os.environ["MUTANT_UNDER_TEST"] = ""
    import models.privacy as privacy  # the mutated copy: MUTANT_UNDER_TEST picks a mutant per call

    texts = corpus()

    def masked() -> list[str]:
        privacy._FOLDED.clear()  # the fold is memoised: a fold mutant must not read the original's
        return [privacy.mask(text).text for text in texts]

    original = masked()
    for name in survivors:
        os.environ["MUTANT_UNDER_TEST"] = name
        try:
            differ = [(t, o, m) for t, o, m in zip(texts, original, masked(), strict=True) if o != m]
        except Exception as exc:  # noqa: BLE001 (a mutant that raises differs)
            differ = [("(raised)", "", exc.__class__.__name__)]
        print(f"{name.removeprefix('models.privacy.')}: {len(differ)} of {len(texts)} differ {differ[:2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
