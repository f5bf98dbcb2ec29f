"""Wording for joining, membership, help and errors."""

from __future__ import annotations

ORG_KIND_LABELS = {"formal": "フォーマル", "informal": "インフォーマル"}
ROLE_LABELS = {"member": "メンバー", "coordinator": "コーディネーター", "organizer": "世話役"}

# --- joining and membership ------------------------------------------------
JOIN_GREETING = (
    "はじめまして。「重ね（Kasane）」です。\n"
    "このグループで困りごとを共有し、伝手やお手伝いをつなぐお手伝いをします。\n\n"
    "まず、団体ごとに登録をお願いします：\n"
    "団体登録 団体名 フォーマル（またはインフォーマル）\n\n"
    "使い方は「ヘルプ」と送ってください。"
)
# The bot was added to a group nobody approved yet: said once, then nothing until approved.
JOIN_WAITING = (
    "はじめまして。「重ね（Kasane）」です。\n"
    "このグループで使うには、運営者の承認が必要です。承認されるまで、ほかのメッセージにはお答えしません。\n\n"
    "運営者の方へ：このグループのIDは\n{group_id}\nです。"
    "承認は kasane network approve {group_id} --organizer <世話役のLINEユーザーID>、"
    "またはダッシュボードから行えます。"
)
# Approved (from the dashboard or the command line): said in the group once.
APPROVED_GREETING = JOIN_GREETING
# 団体登録 with another kind for an existing organization, by someone who is not an organizer.
KIND_ORGANIZER_ONLY = "団体の種別（フォーマル／インフォーマル）を変えられるのは世話役だけです。種別はそのままです。"
MEMBER_WELCOME = (
    "{user} さん、ようこそ。\n"
    "団体の登録は「団体登録 団体名 インフォーマル」（行政・委託機関はフォーマル）と送ってください。"
)
FOLLOW_GREETING = (
    "友だち追加ありがとうございます。「重ね（Kasane）」です。\n"
    "ネットワークのグループでのお知らせや、会議の出欠の確認をこちらにお送りすることがあります。\n"
    "使い方は「ヘルプ」と送ってください。"
)
REGISTERED = "{user} さんを「{org}」（{kind}）として登録しました。"
REGISTERED_FIRST = (
    "{user} さんを「{org}」（{kind}）として登録しました。\n"
    "最初に登録された方なので、このネットワークの世話役になりました。"
)
REGISTER_USAGE = (
    "団体登録の形は次のとおりです：\n"
    "団体登録 団体名 フォーマル\n"
    "団体登録 団体名 インフォーマル\n"
    "（種類を省くとインフォーマルになります）"
)
REGISTER_NAME_TOO_LONG = "団体名が長すぎます（{limit}文字まで）。短い名前でもう一度お送りください。"
REGISTER_GROUP_ONLY = "団体登録はネットワークのグループの中で送ってください。"
REGISTER_NO_USER = (
    "LINEの設定により、送り主が分からないため登録できませんでした。LINEアプリを最新にして、もう一度お試しください。"
)
PLEASE_REGISTER = (
    "{user} さん、はじめに団体の登録をお願いします。\n団体登録 団体名 インフォーマル（行政・委託機関はフォーマル）"
)

# --- help --------------------------------------------------------------------
HELP_FOOTER = "分からないときは、世話役の方にお声がけください。"  # under each topic of ヘルプ (messages/guidance.py)

# --- errors -----------------------------------------------------------------
SORRY_FAILED = "すみません、うまく処理できませんでした。少し時間をおいて、もう一度お試しください。"


# --- the message plan (プラン): LINE's counted messages a month -----------------------------
PLAN_HELP = ("プラン 無料", "LINE の料金プラン（無料・ライト・スタンダード、または月の通数）を設定（世話役）")
PLAN_SET = (
    "LINE のプランを「{plan}」（月 {allowance:,} 通）にしました。返信は無料、プッシュは受け取る人数分を数えます。"
)
PLAN_SHOW = "LINE のプラン：月 {allowance:,} 通。今月はここまで {spent:,} 通（このネットワーク {mine:,} 通）。"
PLAN_UNKNOWN = (
    "「{text}」というプランはありません。次のどれかで設定してください：\n"
    "プラン 無料（月 200 通）\nプラン ライト（月 5,000 通）\n"
    "プラン スタンダード（月 30,000 通）\nプラン 1000（月の通数を数字で）"
)
PLAN_ORGANIZER_ONLY = "プランの設定は世話役だけができます。"
PLAN_NAMES = {200: "無料", 5000: "ライト", 30000: "スタンダード"}
BUDGET_80 = (
    "お知らせ：今月の LINE の通数が上限の 8 割に達しました（{spent:,} / {allowance:,} 通）。"
    "返信は無料のまま届きます。会議の案内など大事なものに残りを使います。"
)
BUDGET_SPENT = (
    "お知らせ：今月の LINE の通数が上限に達しました（{spent:,} / {allowance:,} 通）。"
    "来月 1 日まで、こちらから送るお知らせは止まります（返信は届きます）。"
)
# In place of a mention LINE refused because the person left the chat (the message still goes).
MENTION_LEFT_NAME = "メンバーの方"

# Replies that waited past their reply token's life (a backlog, an outage) and leave in one push.
STALE_REPLIES_HEADER = "返信が遅れました。届けられなかった返信をまとめてお送りします。"
