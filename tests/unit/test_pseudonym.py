"""Pseudonyms are HMAC-SHA256 exactly: the precomputed pads change the cost, never the value."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.core.pseudonym import MIN_SECRET_BYTES, PID_HEX, Pseudonymizer


@given(
    secret=st.binary(min_size=MIN_SECRET_BYTES, max_size=200),
    kind=st.sampled_from(["session", "device", "text"]),
    value=st.text(max_size=300),
)
def test_pid_is_the_standard_hmac(secret: bytes, kind: str, value: str) -> None:
    message = f"{kind}\x00{value}".encode()
    expected = hmac.new(secret, message, hashlib.sha256).hexdigest()[:PID_HEX]
    assert Pseudonymizer(secret).pid(kind, value) == expected


def test_the_same_pseudonymizer_gives_the_same_pid_every_time() -> None:
    pseudonyms = Pseudonymizer(b"s" * MIN_SECRET_BYTES)
    first = [pseudonyms.pid("text", f"title {i}") for i in range(3)]
    assert first == [pseudonyms.pid("text", f"title {i}") for i in range(3)]
    assert len(set(first)) == 3


def test_subjects_are_canonical_before_hashing() -> None:
    pseudonyms = Pseudonymizer(b"s" * MIN_SECRET_BYTES)
    assert pseudonyms.pid("subject", " JDoe ") == pseudonyms.pid("subject", "jdoe")
    assert pseudonyms.pid("subject", "jdoe") != pseudonyms.pid("session", "jdoe")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        Pseudonymizer(b"s" * (MIN_SECRET_BYTES - 1))
