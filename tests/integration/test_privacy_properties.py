"""Privacy properties of the whole ingest path, for all inputs (hypothesis).

A planted secret in any free-text field of any event type must not reach the stored Parquet, the
logs, the metrics or the response unredacted; typed text and clipboard content must not appear
at all. Checked through the real handler against moto, under the most permissive test program,
with every text of the batch already common (so the handler stores each one in clear: what a
row holds once its texts are released is the most that can ever be stored).
"""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilake.simulate import make_event
from ilake_contract.schema import EVENT_TYPES
from tests.corpus.secrets import iban_for, luhn_complete
from tests.support.api import gzip_event, invoke
from tests.support.lake import Lake

from .common_texts import release_all, released_by

pytestmark = pytest.mark.integration

digits = st.text("0123456789", min_size=1, max_size=1)


def grouped(value: str, sep: str) -> str:
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


secrets = st.one_of(
    st.builds(
        lambda a, b, d: f"{a}.{b}@{d}.com",
        st.from_regex(r"[a-z]{3,8}", fullmatch=True),
        st.from_regex(r"[a-z]{3,8}", fullmatch=True),
        st.from_regex(r"[a-z]{4,9}", fullmatch=True),
    ),
    st.builds(
        lambda body, sep: grouped(luhn_complete("4" + body), sep),
        st.from_regex(r"[0-9]{14}", fullmatch=True),
        st.sampled_from(["", " ", "-"]),
    ),
    st.builds(
        lambda bban, sep: grouped(iban_for("DE", bban), sep),
        st.from_regex(r"[0-9]{18}", fullmatch=True),
        st.sampled_from(["", " "]),
    ),
    st.builds(lambda tail: "AKIA" + tail, st.from_regex(r"[A-Z0-9]{16}", fullmatch=True)),
    st.builds(
        lambda a, g, s: f"{a}-{g}-{s}",
        st.from_regex(r"[1-5][0-9]{2}", fullmatch=True),
        st.from_regex(r"[1-9][0-9]", fullmatch=True),
        st.from_regex(r"[1-9][0-9]{3}", fullmatch=True),
    ),
    st.builds(
        lambda a, b: f"+44 {a} {b}",
        st.from_regex(r"[0-9]{4}", fullmatch=True),
        st.from_regex(r"[0-9]{6}", fullmatch=True),
    ),
    st.builds(
        lambda p, s: f"eyJhbGciOiJIUzI1NiJ9.{p}.{s}",
        st.from_regex(r"eyJ[A-Za-z0-9_-]{10,30}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9_-]{20,40}", fullmatch=True),
    ),
    st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(1, 254)] * 4),
)
words = st.text(st.sampled_from("abcdefghij XYZ-_:()"), max_size=12)
TEXT_FIELDS = [
    ("window", "title"),
    ("window", "url"),
    ("app", "name"),
    ("app", "bundle_id"),
    ("target", "name"),
    ("target", "automation_id"),
    ("target", "role"),
    ("menu_path", None),
    ("reason", None),
    ("mime", None),
    ("key", None),
    ("subject", None),
    ("device_id", None),
    ("session_id", None),
    ("extra", None),
]


def plant(event: dict[str, Any], where: tuple[str, str | None], text: str) -> None:
    outer, inner = where
    if outer == "menu_path":
        event["menu_path"] = ["File", text]
    elif outer == "extra":
        event["debug_dump"] = {"note": text}
    elif inner is None:
        event[outer] = text
    else:
        event.setdefault(outer, {})[inner] = text


def stored_strings(lake: Lake, key: str) -> str:
    data = lake.clients.s3.get_object(Bucket=lake.settings.lake_bucket, Key=key)["Body"].read()
    cells: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            cells.append(value)
        elif isinstance(value, list | tuple):
            for v in value:
                collect(v)
        elif isinstance(value, dict):
            for k, v in value.items():
                collect(k)
                collect(v)

    collect(pq.read_table(io.BytesIO(data)).to_pylist())
    return "\n".join(cells)


def compact(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plants=st.lists(
        st.tuples(
            st.sampled_from(sorted(EVENT_TYPES)),
            st.sampled_from(TEXT_FIELDS),
            words,
            secrets,
            words,
        ),
        min_size=1,
        max_size=6,
    ),
    marker=st.from_regex(r"[A-Z]{4}[0-9]{6}", fullmatch=True),
    seed=st.integers(0, 2**32),
)
def test_no_planted_secret_or_typed_text_is_stored_logged_or_echoed(
    lake: Lake, capsys: pytest.CaptureFixture[str], plants: list[Any], marker: str, seed: int
) -> None:
    import random

    rng = random.Random(seed)
    now = int(time.time() * 1000)
    events, planted = [], []
    for i, (etype, where, before, secret, after) in enumerate(plants):
        event = make_event(
            rng,
            etype,
            ts=now - 1000 + i,
            seq=i,
            session="s-1",
            subject="jdoe",
            device="dev-1",
            app=("Visual Studio Code", "com.microsoft.VSCode", ["x"]),
        )
        plant(event, where, f"{before} {secret} {after}")
        if etype == "text.input":
            event["text"] = f"typed {marker} here"
        if etype == "clipboard":
            event["content"] = f"copied {marker} here"
        events.append(event)
        planted.append(secret)
    batch = {
        "schema": "interaction/1",
        "batch_id": str(uuid.uuid4()),
        "sent_at": now,
        "agent": {"version": "1.0", "os": "linux"},
        "events": events,
    }
    common = release_all(lake, batch)  # the strictest case: every text in clear, once common
    capsys.readouterr()
    status, body, _ = invoke(gzip_event("everything", batch))
    out = capsys.readouterr()
    assert released_by(out.out) == common
    seen = [repr(body), out.out, out.err]
    assert status == 200
    if body["object"]:
        seen.append(stored_strings(lake, body["object"]))
    everything = "\n".join(seen)
    compacted = compact(everything)
    assert marker not in everything
    assert "jdoe" not in everything  # subjects are pseudonymized, never stored
    for secret in planted:
        assert secret not in everything, secret
        assert compact(secret) not in compacted, secret
