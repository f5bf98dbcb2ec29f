"""Wording for 本人同意 (consent): setting it in chat, and what the group sees without it."""

CONSENT_SET = "#{number} の本人同意を「{label}」として記録しました。"
CONSENT_NOT_ALLOWED = (
    "{user} さん、#{number} の本人同意を記録できるのは、投稿した団体・コーディネーター・世話役の方です。"
)
CONSENT_SAME = "#{number} の本人同意は、すでに「{label}」です。"
# Shown in the group in place of the summary of a thread whose consent is not あり.
CARD_NO_CONSENT = "（本人同意が「あり」ではないため、要約はグループに表示しません）"
# The thread card's 本人同意 line and button, and the choices the button opens.
CARD_CONSENT = "本人同意：{label}"
BUTTON_CONSENT = "本人同意を記録"
CONSENT_CHOOSE = "#{number} の本人同意を選んでください（いま：{label}）。"
CONSENT_CHOICES = {"yes": "同意あり", "no": "同意なし", "unknown": "同意未確認"}
