"""The simulator shows this month's counted messages, as LINE counts them."""

from __future__ import annotations

import re

from test_simulator import push_from_bot, serve_simulator


def counted(html: str) -> str:
    found = re.search(r'<p id="counted">([^<]*)</p>', html)
    assert found, html
    return found.group(1)


def test_the_page_shows_the_month_count_against_the_plan(database_url):
    with serve_simulator(database_url) as served:
        client = served.app.test_client()
        assert counted(client.get("/simulator").get_data(as_text=True)).endswith(": 0 / 200 通")
        group = client.get("/simulator/api/state").get_json()["groups"][0]["id"]
        assert client.post("/simulator/api/join", json={"group": group}).status_code == 200
        members = len(served.platform.world.chats[group].members)
        before = served.platform.counted_this_month()  # the greeting is a reply: free
        assert before == 0
        push_from_bot(served, group, {"type": "text", "text": "お知らせ"})
        assert counted(client.get("/simulator").get_data(as_text=True)).endswith(f": {members} / 200 通")
