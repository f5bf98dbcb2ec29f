"""A fake LINE Messaging API platform: for the test-suite, the simulator and offline development.

platform = FakeLinePlatform()
with FakeLineServer(platform) as server:   # server.url is the API base URL
    line = WebhookBuilder(platform)
    event = line.text(group_id, user_id, "hello")
"""

from bot.fakeline.ids import new_group_id, new_room_id, new_user_id
from bot.fakeline.platform import FakeLinePlatform
from bot.fakeline.records import Delivery, RecordedRequest
from bot.fakeline.server import FakeLineServer
from bot.fakeline.webhook import WebhookBuilder, encode_body, sign

__all__ = [
    "Delivery",
    "FakeLinePlatform",
    "FakeLineServer",
    "RecordedRequest",
    "WebhookBuilder",
    "encode_body",
    "new_group_id",
    "new_room_id",
    "new_user_id",
    "sign",
]
