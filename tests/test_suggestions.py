"""「もしかして…？」: slips of commands get the command they surely meant; ordinary chat gets nothing.

The table runs through the registry the bot uses (every handler registered), so a command added
later is covered by the same matcher; the transcripts run through LINE's webhook like the chat.
"""

from __future__ import annotations

import pytest

import handlers  # noqa: F401 (registers every command)
from bot.pipeline.registry import registry
from bot.pipeline.suggest import suggest

# (what a member typed, the command the suggestion's button sends)
SLIPS = [
    ("困りこと 駅前の団地で一人暮らしの方が困っています", "困りごと 駅前の団地で一人暮らしの方が困っています"),
    ("こまりこと 通院の付き添いを探しています", "困りごと 通院の付き添いを探しています"),
    ("コマリゴト 買い物の手伝いが必要な方がいます", "困りごと 買い物の手伝いが必要な方がいます"),
    ("ｺﾏﾘｺﾞﾄ 見守りをお願いしたい方がいます", "困りごと 見守りをお願いしたい方がいます"),
    ("困まりごと 引っ越しの手伝い", "困りごと 引っ越しの手伝い"),
    ("困りごとと 子どもの居場所", "困りごと 子どもの居場所"),
    ("＃困りこと 学習支援を探しています", "困りごと 学習支援を探しています"),
    ("困り毎 ゴミ出しが難しい方", "困りごと ゴミ出しが難しい方"),
    ("一欄", "一覧"),
    ("いちらん", "一覧"),
    ("イチラン", "一覧"),
    ("いちらん 高齢", "一覧 高齢"),
    ("へるぷ", "ヘルプ"),
    ("ヘルブ", "ヘルプ"),
    ("へるぶ", "ヘルプ"),
    ("ヘルフ", "ヘルプ"),
    ("ﾍﾙﾌ", "ヘルプ"),
    ("かいぎ", "会議"),
    ("カイギ", "会議"),
    ("会儀", "会議"),
    ("ろぐいん", "ログイン"),
    ("ログイソ", "ログイン"),
    ("かれんだー", "カレンダー"),
    ("カレンダ", "カレンダー"),
    ("だんたいとうろく 子ども食堂ひまわり", "団体登録 子ども食堂ひまわり"),
    ("団体登緑 子ども食堂ひまわり インフォーマル", "団体登録 子ども食堂ひまわり インフォーマル"),
    ("団体登禄 東部包括 フォーマル", "団体登録 東部包括 フォーマル"),
    ("会義設定 毎月第4水曜 14:00 中央公民館", "会議設定 毎月第4水曜 14:00 中央公民館"),
    ("かいぎせってい 毎月15日 10:00", "会議設定 毎月15日 10:00"),
    ("ぎだいついか #3", "議題追加 #3"),
    ("議題追可 #3 #5", "議題追加 #3 #5"),
    ("会議記禄 #12", "会議記録 #12"),
    ("ちくとうろく 南校区 北校区", "地区登録 南校区 北校区"),
    ("3 伝手 町内会長さんに相談できます", "#3 伝手 町内会長さんに相談できます"),
    ("３　伝手　民生委員さんが詳しいです", "#3 伝手 民生委員さんが詳しいです"),
    ("3 手伝えます 土曜なら付き添えます", "#3 手伝えます 土曜なら付き添えます"),
    ("12 解決", "#12 解決"),
    ("12 かいけつ", "#12 解決"),
    ("5 つて 社協の移送サービス", "#5 伝手 社協の移送サービス"),
    ("7 緩和", "#7 緩和"),
    ("7 かんわ", "#7 緩和"),
    ("8 再開", "#8 再開"),
    ("4 てつだえます 平日の午後", "#4 手伝えます 平日の午後"),
]

# Lines of an ordinary group chat: none of them may be answered with a suggestion.
CHAT = [
    "おはようございます",
    "ありがとうございます、助かります",
    "了解です",
    "よろしくお願いします",
    "お疲れさまでした",
    "会議室を予約しました",
    "会議 楽しみにしています",
    "会議中に失礼します",
    "会議中に 電話します",
    "一覧表を作っておきました",
    "ヘルパーさんに相談してみます",
    "困りましたね",
    "困ったことがあれば言ってください",
    "3人で伺います",
    "12月の会議に出ます",
    "3時に伺います",
    "来週の水曜日はいかがですか",
    "資料を送ります",
    "さっきの件、確認しました",
    "写真ありがとうございます",
    "明日は雨みたいです",
    "社協さんに聞いてみます",
    "その方なら知っています",
    "お大事になさってください",
    "はい",
    "いいえ",
    "OK",
    "なるほど",
    "ログインできました",
    "カレンダーに入れました",
    "団体の名前を変えたいです",
    "2 3日お待ちください",
    "10 分遅れます",
    "1 件目の件ですが",
    "本日はよろしくお願いいたします",
    "次回もよろしくお願いします",
    "見守りの件、民生委員さんに伝えました",
    "子ども食堂の日程が決まりました",
    "駅前の団地の件、進展ありましたか",
    "👍",
    "今日の議事録です",
    "会場は二階です",
]


@pytest.mark.parametrize(("typed", "meant"), SLIPS)
def test_a_slip_gets_the_command_it_meant(typed: str, meant: str):
    found = suggest(registry, typed, in_group=True)
    assert found is not None and found.text == meant


@pytest.mark.parametrize("line", CHAT)
def test_ordinary_chat_gets_no_suggestion(line: str):
    assert suggest(registry, line, in_group=True) is None


def test_the_tables_are_large_enough():
    assert len(SLIPS) >= 40 and len(CHAT) >= 40


def test_a_command_registered_later_is_covered_without_edits():
    from bot.pipeline.registry import Registry

    fresh = Registry()
    fresh.on_command("見守り登録")(lambda ctx, args: None)
    found = suggest(fresh, "見守り登緑 #3", in_group=True)
    assert found is not None and found.text == "見守り登録 #3"
