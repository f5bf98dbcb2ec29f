"""``kasane richmenu install``: the 1:1 chat's rich menu (ログイン・会議・カレンダー・ヘルプ).

The menu is created through the Messaging API with LINE's SDK, its image drawn at install time
with Pillow in a Japanese font from the machine (fonts-noto-cjk, found with fontconfig), and set
as the default. LINE shows rich menus in 1:1 chats only, which is where these four belong.
Menus an earlier install created (same name) are deleted afterwards, so reinstalling replaces.
"""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path
from typing import Any

from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi, RichMenuRequest
from PIL import Image, ImageDraw, ImageFont

from bot.cli.main import UsageError, command
from bot.config import Config
from bot.replies import messages

WIDTH, HEIGHT = 2500, 843  # LINE's "compact" full-width size
LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"
FONT_QUERIES = ("Noto Sans CJK JP:bold", "Noto Sans JP:bold", "IPAexGothic", "IPAGothic")
FONT_FALLBACKS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
# (background, ink) per area: dark ink on light ground, each area told apart by its words too.
COLOURS = (("#e8f4ec", "#0a3d1f"), ("#e9eef7", "#0b2f5c"), ("#f6efe3", "#4a2e05"), ("#f1eaf4", "#3d1450"))


def menu_request() -> dict[str, Any]:
    """The rich menu object: four areas side by side, each sending its command as a message."""
    width = WIDTH // len(messages.RICH_MENU_AREAS)
    areas = [
        {
            "bounds": {"x": index * width, "y": 0, "width": width, "height": HEIGHT},
            "action": {"type": "message", "label": label, "text": text},
        }
        for index, (label, text) in enumerate(messages.RICH_MENU_AREAS)
    ]
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,
        "name": messages.RICH_MENU_NAME,
        "chatBarText": messages.RICH_MENU_BAR,
        "areas": areas,
    }


def japanese_font() -> tuple[str, int]:
    """A Japanese font file (and face index) on this machine, or a UsageError saying what to install."""
    for query in FONT_QUERIES:
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}:%{index}", query], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            break  # no fontconfig: try the usual paths
        path, _, index = found.rpartition(":")
        if path and ("CJK" in path or "JP" in path or "IPA" in path) and Path(path).exists():
            return path, int(index or 0)
    for path in FONT_FALLBACKS:
        if Path(path).exists():
            return path, 0
    raise UsageError("no Japanese font found for the menu image; install fonts-noto-cjk (Debian: apt-get install)")


def menu_image(font: tuple[str, int]) -> bytes:
    """The menu's picture: one panel per area with its word in large letters (PNG, under 1 MB)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "#ffffff")
    draw = ImageDraw.Draw(image)
    width = WIDTH // len(messages.RICH_MENU_AREAS)
    panels = zip(messages.RICH_MENU_AREAS, COLOURS, messages.RICH_MENU_HINTS, strict=True)
    for index, ((label, _), (ground, ink), hint) in enumerate(panels):
        left = index * width
        draw.rectangle((left, 0, left + width - 1, HEIGHT - 1), fill=ground, outline="#5a5a5a", width=6)
        centre = left + width / 2
        draw.text((centre, HEIGHT * 0.42), label, font=_fitted(draw, font, label, 150, width), fill=ink, anchor="mm")
        draw.text((centre, HEIGHT * 0.72), hint, font=_fitted(draw, font, hint, 80, width), fill=ink, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _fitted(draw: ImageDraw.ImageDraw, font: tuple[str, int], text: str, size: int, width: int) -> Any:
    """The font at ``size``, made smaller until ``text`` fits the panel with a margin."""
    while True:
        face = ImageFont.truetype(font[0], size, index=font[1])
        if draw.textlength(text, font=face) <= width * 0.84 or size <= 40:
            return face
        size -= 6


def data_host(api_base_url: str) -> str:
    """Where the image goes: LINE serves uploads from api-data.line.me; a fake or a proxy standing in
    for LINE (``[line] api_base_url``) serves both."""
    base = api_base_url.rstrip("/")
    return LINE_DATA_API if base == LINE_API else base


def install(config: Config) -> tuple[str, int]:
    """Create, draw, upload and set the menu as the default; (its id, how many old menus were removed)."""
    if not config.channel_access_token:
        raise UsageError("richmenu install needs [line] channel_access_token (a real or fake LINE channel)")
    image = menu_image(japanese_font())
    base = config.get("line", "api_base_url").rstrip("/")
    timeout = config.get("line", "request_timeout")
    configuration = Configuration(host=base, access_token=config.channel_access_token)
    with ApiClient(configuration) as client:
        api = MessagingApi(client)
        try:
            created = api.create_rich_menu(RichMenuRequest.from_dict(menu_request()), _request_timeout=timeout)
            menu_id = created.rich_menu_id
            upload_image(client, base, menu_id, image, timeout)
            api.set_default_rich_menu(menu_id, _request_timeout=timeout)
            older = [
                menu.rich_menu_id
                for menu in api.get_rich_menu_list(_request_timeout=timeout).richmenus
                if menu.name == messages.RICH_MENU_NAME and menu.rich_menu_id != menu_id
            ]
            for old in older:
                api.delete_rich_menu(old, _request_timeout=timeout)
        except ApiException as exc:
            raise UsageError(f"LINE refused the rich menu: {exc.status} {(exc.body or '')[:200]}") from None
        except OSError as exc:
            raise UsageError(f"cannot reach LINE at {base} ({exc.__class__.__name__})") from None
    return menu_id, len(older)


def upload_image(client: ApiClient, base: str, menu_id: str, image: bytes, timeout: float) -> None:
    """The SDK's ``MessagingApiBlob.set_rich_menu_image``, with its host following ``api_base_url``:
    the generated method hard-codes https://api-data.line.me, so it could never reach a fake LINE."""
    client.call_api(
        "/v2/bot/richmenu/{richMenuId}/content",
        "POST",
        {"richMenuId": menu_id},
        [],
        {"Content-Type": "image/png"},
        body=image,
        auth_settings=["Bearer"],
        response_types_map={},
        _request_timeout=timeout,
        _host=data_host(base),
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install"])


@command("richmenu", help="install the 1:1 chat's rich menu (ログイン・会議・カレンダー・ヘルプ)", configure=_configure)
def richmenu(args: argparse.Namespace, config: Config) -> int:
    menu_id, removed = install(config)
    print(f"rich menu {menu_id} is the default for 1:1 chats" + (f" (replaced {removed} earlier)" if removed else ""))
    return 0
