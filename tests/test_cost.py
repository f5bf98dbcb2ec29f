"""``kasane cost --month YYYY-MM`` prints the month's counted messages as the ledger has them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from bot.cli.main import main
from models import LedgerEntry, Network
from models.cost import month_cost


def config_file(tmp_path, database_url):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    return path


def fill(session) -> None:
    network = Network(group_id="C" + "a" * 32, name="ささえあいネット")
    session.add(network)
    session.flush()
    at = datetime(2027, 2, 17, 5, 0, tzinfo=UTC)
    rows = [
        ("meeting_week", "sent", 30, network.id, None),
        ("notice", "sent", 1, None, None),
        ("nudge", "ridden", 0, network.id, "ride:12"),
        ("meeting_day", "dropped", 0, network.id, "no_reply_to_carry"),
        ("nudge", "sent", 30, network.id, None),
    ]
    session.execute(
        insert(LedgerEntry),
        [
            {
                "month": "2027-02",
                "at": at,
                "kind": k,
                "outcome": o,
                "counted": c,
                "network_id": n,
                "reason": r,
                "recipients": "group",
            }
            for k, o, c, n, r in rows
        ],
    )
    session.commit()


def test_the_month_by_kind_network_and_what_was_not_pushed(tmp_path, capsys, database_url, session):
    fill(session)
    assert main(["--config", str(config_file(tmp_path, database_url)), "cost", "--month", "2027-02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2027-02: 61 counted messages (Kasane's ledger 61)"
    assert out[out.index("by kind:") + 1 : out.index("by network:")] == [
        "  meeting_week\t30\t(1 pushes)",
        "  nudge\t30\t(1 pushes)",
        "  notice\t1\t(1 pushes)",
    ]
    assert "  ささえあいネット\t60" in out and "  （1:1・ネットワーク外）\t1" in out
    assert "  dropped\tmeeting_day\t1\tno_reply_to_carry" in out and "  ridden\tnudge\t1\tride" in out


def test_this_month_has_a_plan_and_a_projection(session):
    fill(session)
    cost = month_cost(session, "2027-02", datetime(2027, 2, 15, 3, 0, tzinfo=UTC))  # 15 Feb 12:00 in Japan
    assert (cost.allowance, cost.left) == (200, 139)
    assert cost.projection == round(61 * 28 / 14.5)


def test_a_month_that_is_not_one_is_a_usage_error(tmp_path, capsys, database_url):
    assert main(["--config", str(config_file(tmp_path, database_url)), "cost", "--month", "2027-13"]) == 2
    assert "not a month such as 2027-02" in capsys.readouterr().err
