"""Wording for the coordinators' dashboard: sign-in links and the monthly figures."""

from __future__ import annotations

LOGIN_CARD_ALT = "ダッシュボードへのログインリンク"
LOGIN_CARD_TITLE = "ダッシュボードにログイン"
LOGIN_CARD_LINES = [
    "下のボタンから開いてください。",
    "このリンクは10分間、1回だけ使えます。",
    "ほかの方には転送しないでください。",
]
LOGIN_BUTTON = "ダッシュボードを開く"
LOGIN_USE_ONE_TO_ONE = (
    "ダッシュボードのログインは、重ね（Kasane）との1対1のトークで「ログイン」と送ってください。\n"
    "（まだの方は、先に友だち追加をお願いします）"
)
LOGIN_NOT_ALLOWED = (
    "申し訳ありません。ダッシュボードは、ネットワークのコーディネーターと世話役の方が使えます。\n"
    "必要な場合は、ネットワークの世話役の方にお声がけください。"
)
LOGIN_TOO_MANY = "ログインリンクのご依頼が続いています。安全のため、1時間ほどあけてからもう一度お送りください。"
LOGIN_NO_USER = "送り主が分からないため、リンクをお送りできませんでした。LINEアプリを最新にして、お試しください。"

# --- the monthly figures (pushed on the 1st) ------------------------------------
MONTHLY_ALT = "{network}：{month}の集計"
MONTHLY_TITLE = "{month}の集計"
MONTHLY_LINES = [
    "受け付けた困りごと：{received}件",
    "伝手：{connections}件　申し出：{offers}件",
    "フォーマルとインフォーマルがともに関わった：{overlap}件",
    "つなぎ：{referred}件",
    "翌月へ持ち越し：{carried}件",
]
MONTHLY_FOOTER = "月報（翌月15日まで）の準備にお使いください。"
MONTHLY_COUNTED = "LINE の送信数（この月）：{counted}通"
MONTHLY_OPEN = "ダッシュボードで見る"
MONTHLY_LOGIN = "ログインリンクを受け取る"
MONTHLY_LOGIN_TEXT = "ログイン"


def month_label(year: int, month: int) -> str:
    return f"{year}年{month}月"


# The dashboard's approval of a waiting group (an organizer of an approved network).
DASHBOARD_APPROVED = "グループを承認しました。あなたがこのネットワークの世話役です。"
DASHBOARD_APPROVE_UNKNOWN = "承認を待っているグループが見つかりません。ボットがグループに送ったIDをご確認ください。"
# --- 送信数 (counted messages) ---------------------------------------------------------------
COST_PAGE_80 = (
    "今月の送信数が上限の 8 割を超えました。残りは会議の案内など大事なものに使います（返信は無料のまま届きます）。"
)
COST_PAGE_SPENT = (
    "今月の送信数が上限に達しました。来月 1 日まで、こちらから送るお知らせは止まります（返信は届きます）。"
)
COST_KIND_LABELS = {
    "answer": "返信が間に合わなかった応答",
    "ack": "返信が間に合わなかった受付の確認",
    "notice": "お知らせ（伝手の通知など）",
    "nudge": "返信のない困りごとの声かけ",
    "followup_ask": "その後いかがですか",
    "accompany": "伴走の確認",
    "meeting_week": "会議の案内（7日前）",
    "meeting_day": "会議の前日リマインダー",
    "meeting_morning": "会議の当日リマインダー",
    "meeting_summary": "会議の準備（世話役へ）",
    "meeting_holiday": "会議が祝日の知らせ",
    "monthly_figures": "月の集計",
    "budget_notice": "送信数のお知らせ",
}
COST_OUTCOME_LABELS = {"ridden": "返信に添えた", "folded": "まとめて送った", "dropped": "見送った"}

# --- what became of a follow-up (the case log) -------------------------------------------------
TIMELINE_SENT = "LINE が受け付けました（届けました）"
TIMELINE_RIDDEN = "返信に添えて届けました"
TIMELINE_FOLDED = "ほかのお知らせとまとめて届けました"
TIMELINE_HELD = "グループの次の返信に添えて届けます（待機中）"
TIMELINE_WAITING = "送信待ち"
TIMELINE_NOT_SENT = "送れませんでした（{reason}）"
TIMELINE_REASONS = {
    "monthly_limit": "今月の LINE の通数が上限に達していました",
    "no_reply_to_carry": "添えられる返信がないまま時期を過ぎました",
    "poster_not_a_friend": "投稿した方が友だち追加しておらず、グループの返信もありませんでした",
    "rejected": "LINE が受け付けませんでした",
    "other": "LINE に届けられませんでした",
}
