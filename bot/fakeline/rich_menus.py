"""LINE's rich-menu endpoints, as the Messaging API reference and its OpenAPI file describe them.

Create (``POST /v2/bot/richmenu``, the body checked with the SDK's ``RichMenuRequest`` and LINE's
rules: width 800–2500, height at least 250, width/height at least 1.45, at most 20 areas, a chat
bar text of at most 14 characters), upload its image once (``POST /v2/bot/richmenu/{id}/content``,
served by api-data.line.me at LINE: PNG or JPEG, at most 1 MB, the menu's own size; an image
cannot be replaced), get, list, delete, and the default menu (``/v2/bot/user/all/richmenu``;
only a menu with an image can be the default).
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flask
from linebot.v3.messaging import RichMenuRequest
from PIL import Image, UnidentifiedImageError

from bot.fakeline.limits import Detail, detail
from bot.fakeline.routes import _invalid, _json_body, error
from bot.fakeline.validation import _sdk_errors

if TYPE_CHECKING:
    from bot.fakeline.platform import FakeLinePlatform

MAX_IMAGE_BYTES = 1_000_000  # "Max file size: 1 MB", read as the stricter 1,000,000 bytes
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}
MAX_AREAS = 20
MAX_CHAT_BAR_TEXT = 14
MAX_NAME = 300


@dataclass
class RichMenu:
    id: str
    body: dict[str, Any]
    image: bytes | None = None
    content_type: str | None = None

    def as_response(self) -> dict[str, Any]:
        """The rich menu response object: what was created, with its id."""
        return {"richMenuId": self.id, **self.body}


def register(route: Any) -> None:
    route("/v2/bot/richmenu", "create_rich_menu", create, ("POST",))
    route("/v2/bot/richmenu/validate", "validate_rich_menu", validate, ("POST",))
    route("/v2/bot/richmenu/list", "rich_menu_list", listing)
    route("/v2/bot/richmenu/<menu_id>", "rich_menu", get, ("GET",))
    route("/v2/bot/richmenu/<menu_id>", "delete_rich_menu", delete, ("DELETE",))
    route("/v2/bot/richmenu/<menu_id>/content", "set_rich_menu_image", upload, ("POST",))
    route("/v2/bot/richmenu/<menu_id>/content", "rich_menu_image", download, ("GET",))
    route("/v2/bot/user/all/richmenu/<menu_id>", "set_default_rich_menu", set_default, ("POST",))
    route("/v2/bot/user/all/richmenu", "default_rich_menu", get_default, ("GET",))
    route("/v2/bot/user/all/richmenu", "cancel_default_rich_menu", cancel_default, ("DELETE",))


def menu_errors(body: Any) -> list[Detail]:
    if not isinstance(body, dict):
        return [detail("Must be a JSON object", "")]
    errors = _sdk_errors(lambda: RichMenuRequest.from_dict(body), "", "RichMenuRequest")
    if errors:
        return errors
    size = body.get("size") or {}
    width, height = size.get("width"), size.get("height")
    if not isinstance(width, int) or not 800 <= width <= 2500:
        errors.append(detail("Must be between 800 and 2500", "size.width"))
    if not isinstance(height, int) or height < 250:
        errors.append(detail("Must be 250 or more", "size.height"))
    elif isinstance(width, int) and width / height < 1.45:
        errors.append(detail("The aspect ratio (width / height) must be 1.45 or more", "size"))
    for key, limit in (("chatBarText", MAX_CHAT_BAR_TEXT), ("name", MAX_NAME)):
        if not isinstance(body.get(key), str) or not 1 <= len(body[key]) <= limit:
            errors.append(detail(f"Size must be between 1 and {limit}", key))
    areas = body.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= MAX_AREAS:
        errors.append(detail(f"Size must be between 1 and {MAX_AREAS}", "areas"))
    else:
        errors += _area_errors(areas, width, height)
    return errors


def _area_errors(areas: list[Any], width: Any, height: Any) -> list[Detail]:
    errors = []
    for index, area in enumerate(areas):
        bounds = (area or {}).get("bounds") or {}
        x, y, w, h = (bounds.get(k) for k in ("x", "y", "width", "height"))
        numbers = all(isinstance(v, int) for v in (x, y, w, h, width, height))
        if not numbers or x + w > width or y + h > height:
            errors.append(detail("The area must be within the rich menu", f"areas[{index}].bounds"))
        if not isinstance((area or {}).get("action"), dict):
            errors.append(detail("Required", f"areas[{index}].action"))
    return errors


def _menu(platform: FakeLinePlatform, menu_id: str) -> RichMenu | None:
    return platform.world.rich_menus.get(menu_id)


def create(platform: FakeLinePlatform) -> flask.Response:
    body, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    details = menu_errors(body)
    if details:
        return _invalid(details)
    menu = RichMenu("richmenu-" + secrets.token_hex(16), body)
    with platform.lock:
        platform.world.rich_menus[menu.id] = menu
    return flask.jsonify(richMenuId=menu.id)


def validate(platform: FakeLinePlatform) -> flask.Response:
    body, bad_json = _json_body()
    if bad_json is not None:
        return bad_json
    details = menu_errors(body)
    return _invalid(details) if details else flask.jsonify({})


def listing(platform: FakeLinePlatform) -> flask.Response:
    with platform.lock:
        return flask.jsonify(richmenus=[m.as_response() for m in platform.world.rich_menus.values()])


def get(platform: FakeLinePlatform, menu_id: str) -> flask.Response:
    with platform.lock:
        menu = _menu(platform, menu_id)
        return flask.jsonify(menu.as_response()) if menu else error(404, "Not found")


def delete(platform: FakeLinePlatform, menu_id: str) -> flask.Response:
    with platform.lock:
        if platform.world.rich_menus.pop(menu_id, None) is None:
            return error(404, "Not found")
        if platform.world.default_rich_menu == menu_id:
            platform.world.default_rich_menu = None
    return flask.jsonify({})


def upload(platform: FakeLinePlatform, menu_id: str) -> flask.Response:
    content_type = (flask.request.mimetype or "").lower()
    if content_type not in IMAGE_TYPES:
        return error(415, "Unsupported media type")
    data = flask.request.get_data()
    if len(data) > MAX_IMAGE_BYTES:
        return error(400, "The image is larger than 1 MB")
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError):
        return error(400, "The image could not be read")
    if image.format != IMAGE_TYPES[content_type]:
        return error(400, "The image format does not match the Content-Type")
    with platform.lock:
        menu = _menu(platform, menu_id)
        if menu is None:
            return error(404, "Not found")
        if menu.image is not None:
            return error(400, "An image has already been uploaded to the richmenu")
        size = menu.body["size"]
        if image.size != (size["width"], size["height"]):
            return error(400, "The image size must be the size of the rich menu")
        menu.image, menu.content_type = data, content_type
    return flask.jsonify({})


def download(platform: FakeLinePlatform, menu_id: str) -> flask.Response:
    with platform.lock:
        menu = _menu(platform, menu_id)
        if menu is None or menu.image is None:
            return error(404, "Not found")
        return flask.Response(menu.image, mimetype=menu.content_type)


def set_default(platform: FakeLinePlatform, menu_id: str) -> flask.Response:
    with platform.lock:
        menu = _menu(platform, menu_id)
        if menu is None:
            return error(404, "Not found")
        if menu.image is None:
            return error(400, "must upload richmenu image before applying it to user")
        platform.world.default_rich_menu = menu_id
    return flask.jsonify({})


def get_default(platform: FakeLinePlatform) -> flask.Response:
    with platform.lock:
        menu_id = platform.world.default_rich_menu
    return flask.jsonify(richMenuId=menu_id) if menu_id else error(404, "no default richmenu")


def cancel_default(platform: FakeLinePlatform) -> flask.Response:
    with platform.lock:
        platform.world.default_rich_menu = None
    return flask.jsonify({})
