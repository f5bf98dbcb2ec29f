"""Wording for 困りごと threads."""

from __future__ import annotations

CARD_ALT = "#{number} 困りごと：{summary}"
CARD_TITLE = "#{number} 困りごと"
CARD_CATEGORY = "分野：{category}"
CARD_AREA = "地区：{area}"
AREA_UNSET = "未設定"
CARD_RETRACTED = "（投稿は取り消されました）"
CARD_COUNTS = "伝手 {connections}・申し出 {offers}・気にかけ {watchers}"
CARD_STATE_CLOSED = "状態：{outcome}（終了）"
CARD_STATE_OPEN = "状態：受付中"
CARD_STATE_ACCOMPANYING = "状態：伴走中"
BUTTON_CONNECT = "伝手あり"
BUTTON_OFFER = "手伝えます"
BUTTON_WATCH = "気にかけています"
BUTTON_MEETING = "会議で相談"
BUTTON_AREA = "地区を選ぶ"
POSTED_NOTE = "分野・地区が違うときは、下のボタンで直せます。"

POST_USAGE = (
    "困りごとは、次のように送ってください：\n"
    "困りごと 高齢の方の通院の付き添いを探しています\n"
    "（名前・電話番号・住所は書かないでください）"
)
POST_TOO_LONG = "少し長すぎます（{limit}文字まで）。要点を短くして、もう一度お送りください。"
NEED_REGISTRATION = (
    "{user} さん、困りごとの投稿や返信には団体の登録が必要です。\n"
    "団体登録 団体名 インフォーマル（行政・委託機関はフォーマル）"
)
GROUP_ONLY = "この操作は、ネットワークのグループの中でお願いします。"
NETWORK_UNKNOWN = (
    "このグループはまだネットワークとして登録されていません。ボットを一度退出させ、もう一度招待してください。"
)

PRIVACY_MASKED = (
    "{user} さん、個人が特定できる情報（{kinds}）を伏せて記録しました。\n"
    "元のメッセージの「送信取消」もご検討ください（伏せた内容は記録に残ります）。\n"
    "記録した内容：{summary}"
)
PRIVACY_KIND_LABELS = {
    "phone": "電話番号",
    "email": "メール",
    "postal": "郵便番号",
    "address": "住所",
    "mynumber": "個人番号",
    "birthdate": "生年月日",
    "name": "氏名",
}

CATEGORY_SET = "#{number} の分野を「{category}」にしました。"
AREA_SET = "#{number} の地区を「{area}」にしました。"
AREA_CHOOSE = "#{number} の地区を選んでください。"
AREA_PAGE = "（{page}/{pages}ページ）"
AREA_NEXT = "次へ"
AREA_PREVIOUS = "前へ"
AREA_NONE = "地区がまだ登録されていません。世話役の方が「地区登録 地区名」で登録できます。"
AREAS_REGISTERED = "地区を登録しました：{areas}\n登録済みの地区：{all}"
AREA_CHANGE_USAGE = "形：地区名変更 旧い名前 新しい名前／地区統合 まとめる地区 まとめ先の地区"
AREA_CHANGE_REFUSED = "変更できませんでした。名前を確かめてください。登録済みの地区：{all}"
AREA_RENAMED = "地区「{old}」を「{new}」にしました（困りごと {moved} 件も移しました）。\n登録済みの地区：{all}"
AREA_MERGED = "地区「{old}」を「{new}」にまとめました（困りごと {moved} 件を移しました）。\n登録済みの地区：{all}"
AREAS_USAGE = "地区登録の形：地区登録 地区名 地区名 …（例：地区登録 南校区 北校区）"
ORGANIZER_ONLY = "この操作は、ネットワークの世話役の方のみできます。"

ASK_CONNECTION = "{user} さん、#{number} への伝手（つなげそうな人・団体）を一行でお送りください。（10分以内）"
ASK_OFFER = "{user} さん、#{number} でお手伝いできることを一行でお送りください。（10分以内）"
RESPONSE_LABELS = {"connection": "伝手", "offer": "申し出", "comment": "コメント"}
RESPONSE_RECORDED = "#{number} に{label}を記録しました：{text}"
RESPONSE_NOTIFY = "{poster} さん、#{number} に{org}から{label}が届きました：{text}"
RESPONSE_NOTIFY_PUSH = "#{number} に{org}から{label}が届きました：{text}"
WATCH_RECORDED = "{user} さん、#{number} を気にかけていただきありがとうございます。"
WATCH_ALREADY = "{user} さんはすでに #{number} を気にかけています。"
RESPONSE_USAGE = "返信の形：#{number} 伝手 内容　または　#{number} 手伝えます 内容"
MEETING_REQUESTED = "#{number} を次回の会議で相談する議題に加えました。"
MEETING_ALREADY = "#{number} はすでに会議の議題候補です。"

THREAD_UNKNOWN = "#{number} の困りごとは、このネットワークに見つかりませんでした。「一覧」で番号をご確認ください。"
THREAD_CLOSED = "#{number} は「{outcome}」で終了しています。再開するときは「#{number} 再開」と送ってください。"
THREAD_RETRACTED = "#{number} は投稿が取り消されています。"
COMMAND_UNKNOWN = (
    "「#{number} {verb}」は分かりませんでした。使える形：\n"
    "#{number} 伝手 内容／#{number} 手伝えます 内容\n"
    "#{number} 解決／緩和／つなぎ 機関名／伴走／終了 理由／取り下げ／再開"
)
NOT_ALLOWED = "{user} さん、#{number} の結果を記録できるのは、投稿した団体・コーディネーター・世話役の方です。"
TEXT_TOO_LONG = "文章が長すぎます（{limit}文字まで）。短くしてもう一度お送りください。"

OUTCOME_RECORDED = {
    "resolved": "#{number} を「解決」として記録しました。ありがとうございました。",
    "eased": "#{number} を「緩和（少し楽になった）」として記録しました。ありがとうございました。",
    "referred": "#{number} を「つなぎ（{referred_to}）」として記録しました。",
    "accompanying": "#{number} を「伴走」として記録しました。ひと月ごとに様子をおうかがいします。",
    "ended": "#{number} を「終了（{end_reason}）」として記録しました。",
    "withdrawn": "#{number} を「取り下げ」として記録しました。",
}
OUTCOME_ALREADY = (
    "#{number} はすでに「{outcome}」で記録されています。変えるときは「#{number} 再開」のあと記録してください。"
)
REOPENED = "#{number} を再開しました。"
NOT_CLOSED = "#{number} は受付中です（再開の必要はありません）。"
ASK_REFERRED_TO = "#{number} のつなぎ先を選ぶか、「#{number} つなぎ 機関名」と送ってください。"
ASK_END_REASON = "#{number} を終了する理由を選ぶか、「#{number} 終了 理由」と送ってください。"
REFERRAL_DESTINATIONS = (
    "地域包括支援センター",
    "生活自立支援センター",
    "障害者相談支援",
    "子育て支援",
    "社協",
    "行政窓口",
)
END_REASONS = ("本人が希望しない", "連絡が取れない", "対応できる資源がない（狭間）", "制度の要件外", "その他")

LIST_EMPTY = "受付中の困りごとはありません。"
AGE_DAYS = "{days}日前"
AGE_TODAY = "今日"

TIMELINE_TITLE = "経過："
TIMELINE_LABELS = {
    "posted": "投稿",
    "corrected": "分野・地区の修正",
    "response": "返信",
    "comment": "コメント",
    "watch": "気にかけ",
    "outcome": "結果の記録",
    "reopened": "再開",
    "retracted": "取り消し",
    "edited": "編集",
    "followup": "フォローアップ",
    "flagged": "会議の議題へ",
    "meeting_requested": "会議で相談",
    "discussed": "会議で検討",
    "note": "メモ",
    "consent": "本人同意",
    "missing": "足りなかった資源",
    "shared": "事例として共有",
}

NUDGE = "#{number} にまだ返信がありません。伝手やお手伝いできることがあれば、お知らせください。\n{summary}"
NUDGE_TITLE = "#{number} にまだ返信がありません。"
NUDGE_ASK = "伝手やお手伝いできることがあれば、お知らせください。"
FOLLOWUP_TITLE = "#{number} その後いかがですか？"
FOLLOWUP_ALT = "#{number} その後いかがですか？"
FOLLOWUP_ASK = "{poster} さん、#{number} のその後を教えてください。"
# The same question 1:1 (to a poster who follows the bot: 1 counted message, not the whole group).
FOLLOWUP_ASK_DIRECT = "{network}の #{number} のその後を教えてください。下のボタンで記録できます。"
ACCOMPANY_TITLE = "#{number} 伴走中：最近のご様子はいかがですか？"
BUTTON_RESOLVED = "解決した"
BUTTON_EASED = "少し楽になった"
BUTTON_REFERRED = "つないだ"
BUTTON_ACCOMPANYING = "伴走を続ける"
BUTTON_ENDED = "終了する"
BUTTON_WITHDRAWN = "取り下げる"
