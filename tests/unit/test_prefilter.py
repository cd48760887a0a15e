"""The bulk prefilter (RE2 over a batch's distinct texts) agrees with the one-at-a-time triggers,
and redacting in bulk gives exactly what redacting one text at a time gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ilake_contract import redact
from ilake_contract.redact import DETECTORS, Redactor, normalize, triggered_by
from lambdas.core.prefilter import BULK_MIN_TEXTS, redact_all, trigger_bits
from tests.corpus.benign import generate
from tests.unit import fuzz_inputs as fz

# The characters every trigger and detector turns on, and some that they must not.
ALPHABET = "0123456789 -.()/:@[]_+=AKIaskieyJwt.x" + "SIDPRVTEKY" + "é\u2013\u00a0\u0663\u1680\t"
# and the words and pieces that triggers are made of, so that every trigger fires often
TOKENS = [" at ", " AT ", " dot ", "[at]", "akia", "AKIA", "ASIA", "aws", "www.", "://", "eyJ",
          "PRIVATE KEY", "1234567", "4111 1111", "_1111", "DE89", "3704 0044", "10.0.0.1", "::",
          "/home/", "C:\\Users\\", "xoxb-", "A" * 20, "\u0131", "\u212a"]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS) | st.text(alphabet=ALPHABET, max_size=4), max_size=12).map(
    "".join
)
NO_PHONE = [d for d in DETECTORS if d != "phone"]
REDACTORS = [Redactor(), Redactor(url_mode="host"), Redactor(NO_PHONE)]


def _units() -> list[str]:
    units = [u for group in fz.ADVERSARIAL.values() for u in group] + fz.ADVERSARIAL_MIXED
    return [fz.long_text(unit, 200) for unit in units] + units


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=20))
def test_bulk_triggers_are_the_one_at_a_time_triggers(batch: list[str]) -> None:
    normalized = [normalize(text) for text in batch]
    bits = trigger_bits(normalized)
    assert bits is not None
    assert [triggered_by(b) for b in bits] == [redact._triggered(t) for t in normalized]


@pytest.mark.parametrize("corpus", ["benign", "adversarial"])
def test_bulk_triggers_agree_on_the_corpora(corpus: str) -> None:
    batch = generate() if corpus == "benign" else _units()
    normalized = [normalize(text) for text in batch]
    bits = trigger_bits(normalized)
    assert bits is not None
    disagree = [
        t for t, b in zip(normalized, bits, strict=True) if triggered_by(b) != redact._triggered(t)
    ]
    assert not disagree


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, min_size=BULK_MIN_TEXTS, max_size=BULK_MIN_TEXTS + 20))
def test_redacting_in_bulk_is_redacting_one_at_a_time(batch: list[str]) -> None:
    for redactor in REDACTORS:
        assert redact_all(redactor, batch) == [redactor.redact(text) for text in batch]


def test_redacting_the_corpora_in_bulk_is_redacting_one_at_a_time() -> None:
    batch = generate() + _units()
    assert len(batch) >= BULK_MIN_TEXTS
    for redactor in REDACTORS:
        assert redact_all(redactor, batch) == [redactor.redact(text) for text in batch]


def test_texts_re2_cannot_read_fall_back_to_one_at_a_time() -> None:
    batch = ["card 4111 1111 1111 1111"] * BULK_MIN_TEXTS + ["\ud800 lone surrogate"]
    assert trigger_bits(batch) is None
    redactor = Redactor()
    assert redact_all(redactor, batch) == [redactor.redact(text) for text in batch]
    assert redact_all(redactor, batch)[0].counts == {"card": 1}


def test_texts_no_trigger_matches_skip_the_vectorized_passes() -> None:
    assert trigger_bits(["Quarterly report - Excel", "Inbox - Mail"]) == [0, 0]
    assert trigger_bits([]) == []


def test_a_short_slack_token_fires_the_secret_trigger() -> None:
    """Slack tokens can be 15 characters: shorter than the 20 the other secrets need, so a
    trigger of "a 20-character word" let them through."""
    result = Redactor().redact("token xoxb-1234567890 here")
    assert result.text == "token <SECRET> here"
    assert result.counts == {"secret": 1}
