"""Wording for 本人同意 (consent): setting it in chat, and what the group sees without it."""

CONSENT_SET = "#{number} の本人同意を「{label}」として記録しました。"
CONSENT_NOT_ALLOWED = (
    "{user} さん、#{number} の本人同意を記録できるのは、投稿した団体・コーディネーター・世話役の方です。"
)
CONSENT_SAME = "#{number} の本人同意は、すでに「{label}」です。"
# Shown in the group in place of the summary of a thread whose consent is not あり.
CARD_NO_CONSENT = "（本人同意が「あり」ではないため、要約はグループに表示しません）"
