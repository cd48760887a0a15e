"""Pseudonyms: HMAC-SHA256 under the program's secret (DESIGN 4.4).

The same input gives the same pseudonym within a program (so analysts can join a subject's
sessions), different programs give unrelated pseudonyms, and without the secret a pseudonym
cannot be reversed or recomputed from a guessed name. Destroying the secret ends linkability.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

MIN_SECRET_BYTES = 32
PID_HEX = 32  # 128 bits: collision-free at any realistic scale, half the bytes of the full digest


class Pseudonymizer:
    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError("pseudonymization secret is too short")
        self._key = secret

    def pid(self, kind: str, value: str) -> str:
        """Pseudonym of an identifier; `kind` separates subject, device and session domains."""
        if kind == "subject":
            value = canonical_subject(value)
        message = f"{kind}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:PID_HEX]

    def text_hash(self, value: str) -> str:
        """Keyed hash of a text the policy says to hash (e.g. window titles)."""
        return "h:" + self.pid("text", value)[:16]


def canonical_subject(subject: str) -> str:
    """Account names differ in case and width between OSes; one person, one pseudonym."""
    return unicodedata.normalize("NFKC", subject).strip().casefold()
