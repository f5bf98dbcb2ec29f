"""Wording for the monthly network meeting: schedule, reminders, agenda, attendance, calendar.

The group is not the confidential 支援会議: agenda lines carry only number, 分野, 地区 and the
masked summary (see models.meeting_agenda).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

MEETING_NAME = "会議"  # a network may call it 支援会議 (settings meeting.name)
MEETING_WEEKDAY_LABELS = "月火水木金土日"
MEETING_ANSWER_LABELS = {"yes": "出席", "no": "欠席", "maybe": "未定"}
MEETING_ANSWER_DISPLAY = {"yes": "出席します", "no": "欠席します", "maybe": "未定です"}
MEETING_REASON_LABELS = {"flagged": "応答なし", "requested": "会議で相談", "checkin": "伴走の確認", "added": "追加"}
MEETING_SUMMARY_CLIP = 40  # characters of a masked summary shown in an agenda line
MEETING_AGENDA_CARD_ITEMS = 15  # more than this in a card: "ほか N 件"


def meeting_name(settings: dict[str, Any] | None) -> str:
    """What the network calls its meeting (``{"meeting": {"name": "支援会議"}}``), else 会議."""
    return str((settings or {}).get("meeting", {}).get("name") or MEETING_NAME)


def meeting_day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（{MEETING_WEEKDAY_LABELS[day.weekday()]}）"


def meeting_when(start: datetime) -> str:
    """12月23日（水）14:00: the date with its weekday, as people write it."""
    return f"{meeting_day_label(start.date())}{start.hour}:{start.minute:02d}"


# --- help ------------------------------------------------------------------------------
MEETING_HELP_SHOW = ("会議", "次の会議の日時・場所・出欠を表示します")
MEETING_HELP_SET = ("会議設定 毎月第4水曜 14:00 場所", "会議の予定を決めます（世話役）")
MEETING_HELP_MOVE = ("会議変更 12/23 → 12/16 15:00", "1回分の日時を変えます（世話役）")
MEETING_HELP_CANCEL = ("会議中止 12/23", "1回分を中止にします（世話役）")
MEETING_HELP_AGENDA = ("議題追加 #12 ／ 議題削除 #12", "次の会議の議題を変えます（世話役）")
MEETING_HELP_RECORD = ("会議記録 #12 #15", "会議で話し合った困りごとを記録します")
MEETING_HELP_CALENDAR = ("カレンダー", "会議のカレンダーのURLを1対1でお送りします（世話役）")

# --- setting the schedule ----------------------------------------------------------------
MEETING_RULE_FORMS = (
    "次の形で送ってください：\n"
    "会議設定 毎月第4水曜 14:00 場所\n"
    "会議設定 毎月15日 10:00 場所\n"
    "会議設定 隔月第2火曜 14:00 場所\n"
    "（最終金曜、奇数月・偶数月も使えます。オンライン会議のURLは場所のあとに書けます）"
)
MEETING_RULE_ERRORS = {
    "unreadable": "会議の日の決め方が読み取れませんでした。",
    "no_time": "開始時刻が書かれていません（例：14:00）。",
    "bad_time": "時刻が読み取れませんでした（0:00〜23:59、例：14:00 や 14時30分）。",
    "fifth_week": "第5週は月によってありません。月末の曜日なら「最終水曜」のように書いてください。",
    "bad_day": "日にちは1日〜28日で書いてください。",
    "short_month_day": "29日〜31日は月によってありません。1日〜28日か「最終水曜」のように書いてください。",
    "bad_date": "日付が読み取れませんでした（例：2026-12-23 や 12/23）。",
}
MEETING_CHANGE_FORMS = (
    "次の形で送ってください：\n"
    "会議変更 2026-12-23 → 2026-12-16 15:00\n"
    "会議変更 12/23 → 15:00（時刻だけ変える）\n"
    "会議中止 2026-12-23"
)
MEETING_PLACE_UNDECIDED = "未定"
MEETING_SET = "会議の予定を「{rule}」にしました。\n場所：{place}{link}\n次回：{next}"
MEETING_LINK_LINE = "\nオンライン：{link}"
MEETING_LINK_TOO_LONG = "URLが長すぎます（500文字まで）。"
MEETING_PLACE_TOO_LONG = "場所が長すぎます（200文字まで）。短くしてもう一度お送りください。"
MEETING_LINK_SET = "オンライン会議のURLを設定しました：{link}"
MEETING_LINK_CLEARED = "オンライン会議のURLを消しました。"
MEETING_LINK_FORMS = "「会議リンク https://...」の形で送ってください（消すときは「会議リンク なし」）。"
MEETING_NOT_SET = "会議の予定はまだありません。世話役の方が「会議設定 毎月第4水曜 14:00 場所」で決められます。"
MEETING_NOTICE_SET = "会議のお知らせ（出欠と議題）を、会議の{days}日前に送ります。"
MEETING_NOTICE_USAGE = "形：会議通知 20日前（2〜{longest}日前で指定できます）"
MEETING_EXTRA_SET = "臨時会議を加えました：{when}　{place}\nお知らせとリマインドは、いつもの会議と同じように送ります。"
MEETING_EXTRA_TAKEN = "{when}には、すでに会議があります。別の日を指定してください。"
MEETING_EXTRA_USAGE = "形：臨時会議 1/14 14:00 場所（月/日 時:分 場所）"
MEETING_ORGANIZER_ONLY = "すみません、会議の予定や議題を変えられるのは世話役の方だけです。"
MEETING_GROUP_ONLY = "会議のことは、ネットワークのグループの中で送ってください。"

# --- one occurrence -------------------------------------------------------------------------
MEETING_NOT_AN_OCCURRENCE = "{day}は会議の日ではありません。次回は{next}です。"
MEETING_NO_NEXT = "（予定なし）"
MEETING_ALREADY_STARTED = "{day}の会議は、もう始まっているか終わっています。"
MEETING_NEW_TIME_PASSED = "新しい日時がもう過ぎています。これから先の日時を書いてください。"
MEETING_MOVE_TOO_FAR = "移す先は、もとの日の前後{days}日以内にしてください（年も書けます：2026-12-16 15:00）。"
MEETING_ALREADY_CANCELLED = "{day}の会議はすでに中止になっています。"
MEETING_MOVED = "{old}の会議は、{new}に変わりました。"
MEETING_CANCELLED = "{day}の会議は中止になりました。次回は{next}です。"
MEETING_NEXT = "次回の{name}：{when}\n場所：{place}{link}\n出欠：出席{yes}・欠席{no}・未定{maybe}・お返事まだ{none}"

# --- agenda -----------------------------------------------------------------------------
MEETING_AGENDA_FORMS = "「議題追加 #12」「議題削除 #12」の形で送ってください（いくつでも：議題追加 #12 #15）。"
MEETING_AGENDA_ADDED = "{day}の会議の議題に {numbers} を加えました。"
MEETING_AGENDA_DROPPED = "{day}の会議の議題から {numbers} を外しました。"
MEETING_THREADS_NOT_FOUND = "{numbers} の困りごとは見つかりませんでした。"
MEETING_AGENDA_TITLE = "議題（案）"
MEETING_AGENDA_EMPTY = "いまのところ、話し合う困りごとはありません。"
MEETING_AGENDA_MORE = "ほか {count} 件"
MEETING_AGENDA_COUNTS = "前回から：新しい困りごと {opened} 件・終わった困りごと {closed} 件"
MEETING_RETRACTED = "（取り消し済み）"


def meeting_agenda_line(number: int, category: str, area: str | None, summary: str | None, reasons: list[str]) -> str:
    where = f"{category}・{area}" if area else category
    text = (
        MEETING_RETRACTED
        if summary is None
        else summary
        if len(summary) <= MEETING_SUMMARY_CLIP
        else summary[:MEETING_SUMMARY_CLIP] + "…"
    )
    why = "・".join(MEETING_REASON_LABELS[r] for r in reasons)
    return f"#{number}［{where}］{text}（{why}）"


# --- records --------------------------------------------------------------------------------
MEETING_RECORD_FORMS = "「会議記録 #12 #15」の形で送ってください（日付を付けるとき：会議記録 12/23 #12）。"
MEETING_RECORD_NOT_ALLOWED = "会議記録は、世話役かコーディネーターの方にお願いしています。"
MEETING_RECORDED = "{day}の会議で話し合った困りごととして {numbers} を記録しました。"
MEETING_RECORDED_ALREADY = "{numbers} は{day}の会議の記録にすでにあります。"

# --- reminders ---------------------------------------------------------------------------------
MEETING_CARD_TITLE = "{name}のお知らせ"
MEETING_CARD_ALT = "{name}のお知らせ：{when}"
MEETING_PLACE_LINE = "場所：{place}"
MEETING_ONLINE_LINE = "オンライン：あり（下のボタンから）"
MEETING_ONLINE_BUTTON = "オンラインで参加"
MEETING_CARD_ASK = "団体ごとに出欠をお知らせください。"
MEETING_ATTENDANCE_TITLE = "出欠のお返事"
MEETING_DAY_REMINDER = "明日 {when} から{name}です。\n場所：{place}"
MEETING_DAY_UNANSWERED = "\nまだ出欠のお返事がない団体：\n{lines}\nお手数ですが、出欠をお知らせください。"
MEETING_DAY_ALL_ANSWERED = "\n出欠のお返事はそろいました。ありがとうございます。"
MEETING_DAY_MORE = "ほか {count} 団体"
MEETING_MORNING = "本日 {time} から{name}です。\n場所：{place}{link}"
MEETING_SUMMARY = "【{name}の準備】{when}\n\n出欠\n{attendance}\n\n議題\n{agenda}"
MEETING_ATTENDANCE_LINE = "・{label}：{orgs}"
MEETING_NOBODY = "なし"
MEETING_UNANSWERED_LABEL = "お返事まだ"


def meeting_day_reminder_template(org_lines: list[str]) -> str:
    """The 1-day reminder: ``org_lines`` already hold ``{orgN}`` and ``{mN}`` placeholders."""
    tail = MEETING_DAY_UNANSWERED.format(lines="\n".join(org_lines)) if org_lines else MEETING_DAY_ALL_ANSWERED
    return MEETING_DAY_REMINDER + tail


# --- attendance answers ---------------------------------------------------------------------------
MEETING_ANSWERED = "「{org}」は{day}の会議に「{answer}」で承りました。"
MEETING_ANSWER_NEEDS_ORG = "出欠は団体ごとに伺っています。先に「団体登録 団体名」で団体を登録してください。"
MEETING_ANSWER_CANCELLED = "{day}の会議は中止になりました。"
MEETING_ANSWER_NOT_FOUND = "この会議の予定は見つかりませんでした。"

# --- holidays ------------------------------------------------------------------------------------------
MEETING_HOLIDAY_TITLE = "会議の日が祝日です"
MEETING_HOLIDAY_ALT = "{day}は祝日（{holiday}）です。会議の日を移しますか？"
MEETING_HOLIDAY_BODY = "{when}の{name}は、祝日（{holiday}）にあたります。日を移しますか？"
MEETING_HOLIDAY_MOVE_BUTTON = "{day}に移す"
MEETING_HOLIDAY_KEEP_BUTTON = "このまま"
MEETING_HOLIDAY_KEPT = "{day}のまま開きます。"

# --- calendar ----------------------------------------------------------------------------------------
MEETING_CALENDAR_INTRO = (
    "会議のカレンダーのURLです（Googleカレンダーなどで「URLで追加」）。\n"
    "このURLを知っている人は誰でも会議の日時を見られます。グループには貼らないでください。\n"
    "「カレンダー」と送るたびに新しいURLになり、前のURLは使えなくなります。"
)
MEETING_CALENDAR_ENTRY = "\n\n{network}\n{url}"
MEETING_CALENDAR_NO_SCHEDULE = "（会議の予定はまだ設定されていません）"
MEETING_CALENDAR_IN_PRIVATE = (
    "カレンダーのURLは鍵のようなものなので、1対1のトークでお送りします。"
    "ボットを友だち追加して「カレンダー」と送ってください。"
)
MEETING_CALENDAR_NOT_ORGANIZER = "カレンダーのURLは、会議の世話役の方にお渡ししています。"
MEETING_CALENDAR_EVENT_SUMMARY = "{name}（{network}）"
MEETING_CALENDAR_EXTRA_SUMMARY = "臨時{name}（{network}）"  # a 臨時会議: an event of its own
MEETING_UNNAMED_NETWORK = "ネットワーク"
