"""Wording for an organization's agreement to be named in the 事例集 (情報発信)."""

CASEBOOK_NAMED_WORD = "名前を出す"
CASEBOOK_UNNAMED_WORD = "名前を出さない"
CASEBOOK_NAMED = (
    "事例集に「{organization}」の名前を出すことを記録しました。取り消すときは「事例集 名前を出さない」です。"
)
CASEBOOK_UNNAMED = "事例集では「{organization}」の名前を出さないことを記録しました。"
CASEBOOK_ALREADY_NAMED = "「{organization}」は、すでに事例集に名前を出すことになっています。"
CASEBOOK_ALREADY_UNNAMED = "「{organization}」は、もともと事例集に名前を出していません。"
CASEBOOK_USAGE = (
    "形：事例集 名前を出す（自分の団体名を事例集に載せてよいとき）／事例集 名前を出さない\n"
    "世話役の方は、団体名を続けて書くとその団体の分を記録できます。"
)
CASEBOOK_OTHER_ORGANIZATION = "ほかの団体の分を記録できるのは世話役の方です。その団体の方にお願いしてください。"
CASEBOOK_UNKNOWN_ORGANIZATION = "「{organization}」という団体は登録されていません。"
