"""Sealing webhook events while they wait in the inbox: AES-256-GCM, key derived from the channel secret.

Raw text must never be readable from the database. An event waits in the inbox only until the
worker handles it (normally well under a second), but a database file, a backup or a replica
may be copied at any moment: sealed, the waiting events are useless without the channel secret,
which lives in the configuration, never in the database. The event key is bound to the
ciphertext, so a sealed payload cannot be moved to another row.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
NONCE_BYTES = 12


class Unsealable(Exception):
    """The payload was sealed with another key (the channel secret changed) or was damaged."""


class Sealer:
    def __init__(self, channel_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kasane webhook inbox v1").derive(
            channel_secret.encode("utf-8")
        )
        self._aead = AESGCM(key)

    def seal(self, event_key: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, event_key.encode("utf-8"))

    def open(self, event_key: str, sealed: bytes) -> bytes:
        if not sealed.startswith(VERSION) or len(sealed) < 1 + NONCE_BYTES + 16:
            raise Unsealable("not a sealed payload")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, event_key.encode("utf-8"))
        except InvalidTag:
            raise Unsealable("sealed with another key, or damaged") from None
