"""The detectors' triggers over a whole batch at once, in RE2 (pyarrow.compute).

Asked one text at a time in Python, the triggers (ilake_contract.redact.TRIGGERS) cost a few
microseconds per distinct text: the most a batch whose every title is new pays per event. Here
each trigger is one vectorized match over all of the batch's distinct texts, and only the texts a
trigger matches reach the Python validators. The answer is the same as the one-at-a-time
`_triggered` (a property test holds them together); where RE2 cannot take the texts, the caller
falls back to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ilake_contract.redact import TRIGGERS, Redaction, Redactor, normalize, triggered_by

_ZERO = pa.scalar(0, pa.int32())
_BITS = tuple(pa.scalar(1 << i, pa.int32()) for i in range(len(TRIGGERS)))
# a text that no trigger's first pattern matches matches no trigger
_ANY = "|".join(f"(?:{patterns[0]})" for patterns, _ in TRIGGERS)


def _matches(texts: pa.Array, patterns: tuple[str, ...]) -> pa.Array:
    matched = pc.match_substring_regex(texts, patterns[0])
    for pattern in patterns[1:]:
        matched = pc.and_(matched, pc.match_substring_regex(texts, pattern))
    return matched


def trigger_bits(texts: Sequence[str]) -> list[int] | None:
    """Per text (normalized), the triggers it matches as bits (bit i: TRIGGERS[i]); None when
    RE2 cannot read the texts (e.g. a lone surrogate), so the caller asks one at a time."""
    if not texts:
        return []
    try:
        array = pa.array(texts, pa.string())
    except (pa.ArrowException, UnicodeError):
        return None
    hits = pc.match_substring_regex(array, _ANY)
    if not pc.any(hits).as_py():
        return [0] * len(texts)
    # only the texts some trigger may match are asked of each one
    where = pc.indices_nonzero(hits)
    suspects = pc.take(array, where)
    bits = pc.if_else(_matches(suspects, TRIGGERS[0][0]), _BITS[0], _ZERO)
    for i in range(1, len(TRIGGERS)):
        matched = _matches(suspects, TRIGGERS[i][0])
        bits = pc.bit_wise_or(bits, pc.if_else(matched, _BITS[i], _ZERO))
    out = [0] * len(texts)
    for index, value in zip(where.to_pylist(), bits.to_pylist(), strict=True):
        out[index] = value
    return out


# Below this many distinct texts, a dozen vectorized calls cost more than asking one at a time.
BULK_MIN_TEXTS = 64


def redact_all(redactor: Redactor, texts: Sequence[str]) -> list[Redaction]:
    """`redactor.redact` of every text, with the triggers found in bulk when there are many."""
    if len(texts) < BULK_MIN_TEXTS:
        return [redactor.redact(text) for text in texts]
    normalized = [normalize(text) for text in texts]
    bits = trigger_bits(normalized)
    if bits is None:
        return [redactor.redact(text) for text in texts]
    return [
        redactor.redact(text, triggered_by(b)) for text, b in zip(normalized, bits, strict=True)
    ]
