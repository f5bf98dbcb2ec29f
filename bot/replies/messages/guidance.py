"""Wording that helps people find their way: the help card, suggestions for slips, the thread
list, registration hints, the rich menu, and the own-thread and duplicate-answer notes."""

from __future__ import annotations

# --- ヘルプ: a card with five topics ------------------------------------------------------
HELP_CARD_ALT = "【使い方】投稿・答える・結果・会議・ダッシュボード"
HELP_CARD_TITLE = "使い方"
HELP_CARD_INTRO = "知りたいことを押してください。"
# topic key -> (button label, one line on the card)
HELP_TOPICS = {
    "post": ("投稿", "困りごとを出す・一覧を見る"),
    "answer": ("答える", "伝手やお手伝いを返す"),
    "outcome": ("結果", "解決・緩和・つなぎなどを記録する"),
    "meeting": ("会議", "会議の予定・出欠・議題"),
    "dashboard": ("ダッシュボード", "記録を見る（コーディネーター・世話役）"),
}
HELP_TOPIC_TITLE = "【{topic}】"
HELP_TOPIC_DISPLAY = "ヘルプ：{topic}"

# --- suggestions for slips ----------------------------------------------------------------
SUGGEST_ALT = "もしかして『{command}』ですか？"
SUGGEST_TITLE = "もしかして『{command}』ですか？"
SUGGEST_HINT = "そうでしたら、下のボタンで送り直せます。"
SUGGEST_HINT_TOO_LONG = "そうでしたら、最初の言葉を「{word}」に直して、もう一度お送りください。"
SUGGEST_BUTTON = "この内容で送る"
SUGGEST_SHOWN_LIMIT = 40  # characters of the corrected text shown in the question

# --- registering: what an unregistered member is told -------------------------------------
# Every command or button press of an unregistered member is answered, at most this often.
HINT_EVERY_MINUTES = 10

# --- 一覧 ------------------------------------------------------------------------------------
LIST_CARD_ALT = "受付中の困りごと（{first}〜{last}件目／全{total}件）"
LIST_CARD_TITLE = "受付中の困りごと（古い順）"
LIST_CARD_TITLE_FILTERED = "受付中の困りごと：{filter}（古い順）"
LIST_CARD_RANGE = "{first}〜{last}件目／全{total}件"
LIST_ENTRY_HEAD = "#{number}　{age}　{category}{area}　伝手{connections}・申し出{offers}"
LIST_ENTRY_AREA = "・{area}"
LIST_MORE_BUTTON = "続きを見る"
LIST_MORE_DISPLAY = "一覧の続き"
LIST_OPEN_HINT = "くわしくは「#番号」と送ってください。"
LIST_EMPTY_FILTERED = "「{filter}」の受付中の困りごとはありません。"
LIST_FILTER_MINE = "自分"
LIST_FILTER_MINE_LABEL = "自分の団体"
LIST_FILTER_UNKNOWN = (
    "「一覧 {filter}」は分かりませんでした。一覧のあとには、次のどれかを書けます：\n"
    "地区：{areas}\n分野：{categories}\n自分（あなたの団体の困りごと）"
)
LIST_FILTER_NO_AREAS = "（地区はまだ登録されていません）"

# --- answering one's own thread, and the same answer twice ------------------------------------
OWN_THREAD_NOTE = (
    "#{number} はあなたの団体の困りごとなので、{label}ではなくコメントとして記録しました：{text}\n"
    "ほかの団体から伝手やお手伝いが届くと、お知らせします。"
)
SAME_RESPONSE_ALREADY = "#{number} には、同じ{label}を記録済みです（同じ内容は1日に1回だけ記録します）。"

# --- the rich menu of the 1:1 chat -------------------------------------------------------------
RICH_MENU_NAME = "Kasane 1:1 menu"
RICH_MENU_BAR = "メニュー"
# (label drawn on the image, text the area sends)
RICH_MENU_AREAS = (
    ("ログイン", "ログイン"),
    ("会議", "会議"),
    ("カレンダー", "カレンダー"),
    ("ヘルプ", "ヘルプ"),
)
RICH_MENU_HINTS = ("ダッシュボード", "次の会議", "予定の登録", "使い方")  # under each label

# --- 「会議」 in the 1:1 chat (the rich menu's button) ----------------------------------------------
MEETING_PRIVATE_INTRO = "あなたが参加しているネットワークの、次の会議です。"
MEETING_PRIVATE_ENTRY = "\n\n【{network}】\n{when}\n場所：{place}"
MEETING_PRIVATE_NONE = (
    "まだどのネットワークにも登録されていないようです。\n"
    "ネットワークのグループで「団体登録 団体名」と送ると、ここに次の会議が表示されます。"
)
