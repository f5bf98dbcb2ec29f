"""Wording for つなぎ of every kind and 足りなかった資源 (what the network lacked)."""

REFERRED_KIND_NOTE = "（{kind}）"  # appended to the つなぎ reply when it is not formal
MISSING_RECORDED = "#{number} で足りなかった資源として「{resource}」を記録しました。地域づくりの話し合いに使います。"
MISSING_UNKNOWN = (
    "「{resource}」はこのネットワークの資源の一覧にありません。一覧：{names}"
    "（コーディネーターがダッシュボードの「団体」で追加できます）"
)
MISSING_ASK = "足りなかった資源は「#{number} 不足 移動手段」のように送ってください。一覧：{names}"
