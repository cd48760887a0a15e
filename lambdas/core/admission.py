"""Admission: which decoded events a batch keeps, and why each other one is refused.

In order, an event is refused if its type is not collected (`type_not_allowed`), its id repeats
one earlier in the batch (`duplicate_event_id`), its time is too old or too far ahead
(`ts_out_of_range`), its app is denied (`denied_app`), its subject was erased
(`suppressed_subject`), it is a pointer event without a display (`missing_display`), or it is a
pointer move within the program's sampling interval of the session's previous one
(`sampled_out`). Refusals are counted by reason and never fail the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ilake_contract.validation import POINTER_TYPES

from .batch_policy import BatchPolicy, Place, Who


@dataclass(slots=True)
class Admitted:
    """The events kept, in batch order, with what admission learnt of each (row i of the
    table is events[i])."""

    events: list[Any] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)  # lower-cased, as duplicates are found
    whos: list[Who] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)


def admit(
    events: list[Any],
    policy: BatchPolicy,
    rejected: Counter[str],
    *,
    earliest_ms: int,
    latest_ms: int,
    suppressed_subjects: frozenset[str],
) -> Admitted:
    """The events of `events` the program keeps; each refusal is counted in `rejected`."""
    program = policy.program
    allowed = program.allowed_types
    sample_ms = program.collect.pointer_sample_ms
    kept = Admitted()
    keep_event, keep_type, keep_id = kept.events.append, kept.types.append, kept.event_ids.append
    keep_who, keep_place = kept.whos.append, kept.places.append
    seen: set[str] = set()
    last_move: dict[str, int] = {}
    for ev in events:
        etype = ev.__struct_config__.tag
        if etype not in allowed:
            rejected["type_not_allowed"] += 1
            continue
        event_id = ev.event_id.lower()
        if event_id in seen:
            rejected["duplicate_event_id"] += 1
            continue
        seen.add(event_id)
        ts = ev.ts
        if ts < earliest_ms or ts > latest_ms:
            rejected["ts_out_of_range"] += 1
            continue
        who, place = policy.origin(ev)
        if place is None:
            rejected["denied_app"] += 1
            continue
        if who.subject_pid in suppressed_subjects:
            rejected["suppressed_subject"] += 1
            continue
        if etype in POINTER_TYPES:
            if ev.display is None:
                rejected["missing_display"] += 1
                continue
            if etype == "pointer.move" and sample_ms:
                previous = last_move.get(ev.session_id)
                if previous is not None and 0 <= ts - previous < sample_ms:
                    rejected["sampled_out"] += 1
                    continue
                last_move[ev.session_id] = ts
        keep_event(ev)
        keep_type(etype)
        keep_id(event_id)
        keep_who(who)
        keep_place(place)
    return kept
