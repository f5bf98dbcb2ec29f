"""Events waiting in the inbox are sealed: unreadable without the channel secret, bound to their row."""

from __future__ import annotations

import pytest

from bot.store.sealing import Sealer, Unsealable

EVENT = '{"type":"message","message":{"text":"困りごと 090-1234-5678 に電話を"}}'.encode()


def test_a_sealed_event_opens_with_the_same_secret_and_key():
    sealer = Sealer("channel-secret")
    sealed = sealer.seal("01HEVENT", EVENT)
    assert EVENT not in sealed and b"090-1234-5678" not in sealed
    assert Sealer("channel-secret").open("01HEVENT", sealed) == EVENT


def test_sealing_twice_gives_different_bytes():
    sealer = Sealer("channel-secret")
    assert sealer.seal("01HEVENT", EVENT) != sealer.seal("01HEVENT", EVENT)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda sealed: (Sealer("another-secret"), "01HEVENT", sealed), id="another secret"),
        pytest.param(lambda sealed: (Sealer("channel-secret"), "01HOTHER", sealed), id="moved to another row"),
        pytest.param(
            lambda sealed: (Sealer("channel-secret"), "01HEVENT", sealed[:-1] + bytes([sealed[-1] ^ 1])),
            id="one bit flipped",
        ),
        pytest.param(lambda sealed: (Sealer("channel-secret"), "01HEVENT", b""), id="empty"),
        pytest.param(lambda sealed: (Sealer("channel-secret"), "01HEVENT", b"\x02" + sealed[1:]), id="unknown version"),
    ],
)
def test_a_payload_that_does_not_match_is_refused(tamper):
    sealer, key, sealed = tamper(Sealer("channel-secret").seal("01HEVENT", EVENT))
    with pytest.raises(Unsealable):
        sealer.open(key, sealed)
