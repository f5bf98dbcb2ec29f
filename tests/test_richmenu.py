"""``kasane richmenu install`` end to end against the fake LINE platform's rich-menu endpoints,
and those endpoints holding LINE's rules (OpenAPI and the Messaging API reference)."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN
from PIL import Image

from bot.cli.main import main
from bot.cli.richmenu import menu_request


def write_config(tmp_path: Path, line_url: str, database_url: str) -> Path:
    path = tmp_path / "kasane.toml"
    path.write_text(
        f'[line]\nchannel_secret = "s"\nchannel_access_token = "{TOKEN}"\napi_base_url = "{line_url}"\n'
        f'[database]\nurl = "{database_url}"\n',
        encoding="utf-8",
    )
    return path


def call(
    base: str, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(raw) if "json" in kind else raw
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_install_creates_the_menu_with_its_image_and_sets_it_as_default(
    tmp_path, platform, line_server, database_url, capsys
):
    config = write_config(tmp_path, line_server.url, database_url)
    assert main(["--config", str(config), "richmenu", "install"]) == 0
    menu_id = capsys.readouterr().out.split()[2]

    status, default = call(line_server.url, "GET", "/v2/bot/user/all/richmenu")
    assert status == 200 and default == {"richMenuId": menu_id}
    status, menu = call(line_server.url, "GET", f"/v2/bot/richmenu/{menu_id}")
    assert menu["chatBarText"] == "メニュー" and menu["size"] == {"width": 2500, "height": 843}
    assert [a["action"]["text"] for a in menu["areas"]] == ["ログイン", "会議", "カレンダー", "ヘルプ"]
    status, png = call(line_server.url, "GET", f"/v2/bot/richmenu/{menu_id}/content")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (2500, 843) and len(png) < 1_000_000
    # Drawn, not blank: each panel has dark letters on its light ground.
    for index in range(4):
        panel = image.crop((index * 625 + 40, 150, index * 625 + 585, 700)).convert("L")
        assert panel.getextrema()[0] < 80 and panel.getextrema()[1] > 200

    # Installing again replaces the menu: one Kasane menu, the new default.
    assert main(["--config", str(config), "richmenu", "install"]) == 0
    assert "replaced 1 earlier" in capsys.readouterr().out
    status, listing = call(line_server.url, "GET", "/v2/bot/richmenu/list")
    assert [m["richMenuId"] for m in listing["richmenus"]] == [platform.world.default_rich_menu]
    paths = [(r.method, r.path.split("/richmenu")[0]) for r in platform.requests]
    assert ("POST", "/v2/bot") in paths and ("DELETE", "/v2/bot") in paths


def test_install_says_what_went_wrong_in_one_line(tmp_path, platform, line_server, database_url, capsys):
    config = write_config(tmp_path, line_server.url, database_url)
    platform.fail_next(status=500, endpoint="set_rich_menu_image")
    assert main(["--config", str(config), "richmenu", "install"]) == 2
    assert capsys.readouterr().err.startswith("kasane: LINE refused the rich menu: 500")
    no_token = tmp_path / "empty.toml"
    no_token.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    assert main(["--config", str(no_token), "richmenu", "install"]) == 2


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def test_the_fake_keeps_lines_rules(line_server):
    base = line_server.url
    too_tall = {**menu_request(), "size": {"width": 1000, "height": 800}}
    status, body = call(base, "POST", "/v2/bot/richmenu", too_tall)
    assert status == 400 and any(d["property"] == "size" for d in body["details"])
    status, body = call(
        base, "POST", "/v2/bot/richmenu", {**menu_request(), "chatBarText": "とても長いメニューの名前です。"}
    )
    assert status == 400 and body["details"][0]["property"] == "chatBarText"
    assert call(base, "POST", "/v2/bot/richmenu/validate", menu_request()) == (200, {})

    status, created = call(base, "POST", "/v2/bot/richmenu", menu_request())
    menu = created["richMenuId"]
    assert status == 200 and menu.startswith("richmenu-")
    assert call(base, "POST", f"/v2/bot/user/all/richmenu/{menu}")[0] == 400  # no image yet
    assert call(base, "POST", f"/v2/bot/richmenu/{menu}/content", png(2500, 843), "image/gif")[0] == 415
    assert call(base, "POST", f"/v2/bot/richmenu/{menu}/content", png(2500, 1686), "image/png")[0] == 400
    assert call(base, "POST", f"/v2/bot/richmenu/{menu}/content", png(2500, 843), "image/png")[0] == 200
    status, again = call(base, "POST", f"/v2/bot/richmenu/{menu}/content", png(2500, 843), "image/png")
    assert status == 400 and again["message"] == "An image has already been uploaded to the richmenu"
    assert call(base, "POST", f"/v2/bot/user/all/richmenu/{menu}")[0] == 200
    assert call(base, "DELETE", f"/v2/bot/richmenu/{menu}")[0] == 200
    assert call(base, "GET", "/v2/bot/user/all/richmenu")[0] == 404  # the default went with it
    assert call(base, "GET", f"/v2/bot/richmenu/{menu}")[0] == 404


@pytest.mark.parametrize("text", ["ログイン", "会議", "カレンダー", "ヘルプ"])
def test_every_area_of_the_menu_is_answered_in_the_one_to_one_chat(world, text):
    person = world.person("Newcomer")
    assert person.says(None, text).text  # never silence, even for someone in no network yet
