"""Common text through the real handlers on moto: a text fewer than `min_people` people sent is
never stored in clear anywhere; one that enough people sent through their own enrolled agents
is, in every row that holds it once released (earlier rows included, after compaction); the
count cannot be gamed or doubled; erasure takes a person out of the counts."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lambdas.adapters.text_store import COUNT_WRITES, TextStore
from lambdas.core.common_text import canonical
from lambdas.governance import erase
from tests.support.lake import Lake

from .common_texts import (
    PROGRAM,
    K,
    count,
    current_rows,
    focus_batch,
    post,
    secret,
    store_item,
    stored_everywhere,
    texts_of,
    tid,
    use_clock,
)

pytestmark = pytest.mark.integration

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
# each example of a test gets hours of its own, later than the last: hours are counted once
_STARTS = itertools.count()


@pytest.fixture
def handlers(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    # each example's hours are 8 apart; a shorter lookback spares moto's listings (it copies
    # the whole bucket for each), not what is tested
    monkeypatch.setenv("COMPACTION_LOOKBACK_HOURS", "8")
    return lake


def unique() -> str:
    """Letters only: digits could look like a phone number to the detectors."""
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])


def next_hour() -> dt.datetime:
    base = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(
        minute=0, second=0, microsecond=0
    )
    return base + 8 * HOUR * next(_STARTS)


def day_of_hours(hour: dt.datetime) -> dict[str, dt.datetime]:
    """When things happen for an hour's batches: posted, counted (the hour closed), posted
    again, and the refill at 3 hours old."""
    return {
        "post": hour + 10 * MINUTE,
        "count": hour + 2 * HOUR,
        "again": hour + 2 * HOUR + 30 * MINUTE,
        "refill": hour + 4 * HOUR + 30 * MINUTE,  # 3.5 hours after the hour ended
    }


words = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz "), min_size=3, max_size=20)
contributors = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(1, 2), st.booleans()),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(posts=contributors, topic=words)
def test_a_text_fewer_people_sent_is_never_stored_in_clear(
    handlers: Lake,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    posts: list[tuple[int, int, int, bool]],
    topic: str,
) -> None:
    """For any agents, subjects, batches, replays and retries in which fewer than K people took
    part (distinct agents, and distinct subjects, one of them below K): the text is in no S3
    object version, no DynamoDB item, no log line and no answer, before or after the count and
    the refill; a text K people sent in the same hours is released (the count works)."""
    lake = handlers
    started = dt.datetime.now(dt.UTC)
    agents = {a for a, _, _, _ in posts}
    subjects = {s for _, s, _, _ in posts}
    assume(min(len(agents), len(subjects)) < K)
    private = canonical(f"Re: {topic} {unique()}")
    control = f"Quarterly form {unique()}"
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    capsys.readouterr()
    answers = []
    for agent, subject, batches, replay in posts:
        for _ in range(batches):
            batch = focus_batch(f"person-{subject}", [private, "New tab"], when["post"])
            answers.append(post(batch, f"agent-{agent}"))
            if replay:  # the same batch again: a retry after a lost answer
                answers.append(post(batch, f"agent-{agent}"))
    for person in range(K):  # the control: K people, each through an agent of their own
        answers.append(post(focus_batch(f"ctl-{person}", [control], when["post"]), f"ctl-{person}"))
    assert {status for status, _, _ in answers} == {200}

    counted = count(when["count"])
    assert counted["count"]["outcome"] == "counted"
    use_clock(monkeypatch, when["again"])
    for agent, subject, _, _ in posts[:2]:
        answers.append(
            post(focus_batch(f"person-{subject}", [private], when["again"]), f"agent-{agent}")
        )
    answers.append(post(focus_batch("ctl-0", [control], when["again"]), "ctl-0"))
    count(when["refill"])

    out = capsys.readouterr()
    stored = stored_everywhere(lake, since=started)
    everything = "\n".join([stored, out.out, out.err, repr(answers)])
    assert private not in everything
    assert store_item(lake, tid(lake, private)) is None  # not even marked common
    assert tid(lake, private) in everything  # the rows hold its id: analysts can count it
    assert control in everything  # released: the count itself works
    assert set(texts_of(current_rows(lake, since=started), tid(lake, control))) == {control}


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    extra=st.lists(st.tuples(st.integers(0, K - 1), st.integers(0, 20)), max_size=6),
    copies=st.integers(1, 3),
)
def test_a_text_k_people_sent_is_in_clear_in_every_row_once_released(
    handlers: Lake,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[tuple[int, int]],
    copies: int,
) -> None:
    """K people through K agents (some sending it several times, some agents reporting other
    subjects too): the count marks the text common without ever holding it; the next batch
    that carries it releases it; after the refill, every row with its id holds it, the rows
    written before the release included."""
    lake = handlers
    started = dt.datetime.now(dt.UTC)
    common = f"Save changes to {unique()}?"
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    for person in range(K):
        for _ in range(copies):
            batch = focus_batch(f"person-{person}", [common, "x"], when["post"])
            assert post(batch, f"agent-{person}")[0] == 200
    for agent, other in extra:  # more subjects through the same agents: no more people
        assert (
            post(focus_batch(f"other-{other}", [common], when["post"]), f"agent-{agent}")[0] == 200
        )
    before = texts_of(current_rows(lake, since=started), tid(lake, common))
    assert before
    assert set(before) == {None}  # pending: ids only

    run = count(when["count"])
    assert run["count"]["became_common"] >= 1
    item = store_item(lake, tid(lake, common))
    assert item is not None
    assert item["status"]["S"] == "common"
    assert "text" not in item  # the count never sees a text
    assert common not in stored_everywhere(lake, since=started)

    use_clock(monkeypatch, when["again"])
    status, answer, _ = post(focus_batch("person-0", [common], when["again"]), "agent-0")
    assert status == 200
    assert set(answer) == {"batch_id", "accepted", "rejected", "redactions", "object"}
    released = store_item(lake, tid(lake, common))
    assert released is not None
    assert (released["status"]["S"], released["text"]["S"]) == ("released", common)
    held = texts_of(current_rows(lake, since=started), tid(lake, common))
    assert common in held  # the new row has it
    assert None in held  # earlier rows not yet

    refill = count(when["refill"])
    assert refill["refills"]
    held = texts_of(current_rows(lake, since=started), tid(lake, common))
    assert len(held) == K * copies + len(extra) + 1
    assert set(held) == {common}


def test_k_subjects_through_one_agent_or_one_subject_on_k_agents_is_one_person(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = handlers
    forged, roaming = f"Forged {unique()}", f"Roaming {unique()}"
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    for i in range(3 * K):
        assert post(focus_batch(f"made-up-{i}", [forged], when["post"]), "agent-x")[0] == 200
        assert post(focus_batch("one-person", [roaming], when["post"]), f"laptop-{i}")[0] == 200
    run = count(when["count"])
    assert run["count"]["became_common"] == 0
    assert store_item(lake, tid(lake, forged)) is store_item(lake, tid(lake, roaming)) is None


def test_a_batch_without_an_enrolled_agent_counts_nobody(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind API Gateway every batch has one; should the authorizer's context lack it, the
    batch is stored and its texts never count."""
    from lambdas.ingest import handler as ingest_handler
    from tests.support.api import gzip_event, invoke

    lake = handlers
    text = f"Nobody {unique()}"
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    for person in range(K):
        event = gzip_event(PROGRAM, focus_batch(f"p{person}", [text], when["post"]))
        event["requestContext"]["authorizer"].pop("agent_id")
        assert invoke(event)[0] == 200
    run = count(when["count"])
    assert run["count"]["files_without_agent"] == K
    assert store_item(lake, tid(lake, text)) is None
    assert ingest_handler.service  # the handler ran; nothing else to see


def test_the_count_writes_only_ids_and_counts(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The items a count leaves hold the attributes IAM allows it (never a text)."""
    lake = handlers
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    common = f"Shared form {unique()}"
    for person in range(K):
        assert post(focus_batch(f"p{person}", [common], when["post"]), f"agent-{person}")[0] == 200
    assert count(when["count"])["count"]["became_common"] == 1
    items = lake.clients.dynamodb.scan(TableName=lake.settings.common_texts_table)["Items"]
    assert items
    assert all(set(item) <= set(COUNT_WRITES) for item in items)


def test_k_containers_releasing_at_once_release_exactly_once(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K containers, each with a batch of the common text, all read it as common before any of
    them writes: exactly one release succeeds, every other reads back the same text. (DynamoDB
    serializes conditional writes on an item; moto does not across threads, so the test holds a
    lock around moto's update as DynamoDB would.)"""
    from moto.dynamodb.models import DynamoDBBackend

    lake = handlers
    common = "Insert > Table"
    ident = tid(lake, common)
    TextStore(lake.clients.dynamodb, lake.settings.common_texts_table).mark_common(
        PROGRAM, {ident: K}, now_s=0
    )
    read_all = threading.Barrier(K)
    serial = threading.Lock()
    batch_get, update = DynamoDBBackend.batch_get_item, DynamoDBBackend.update_item

    def batch_get_then_wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = batch_get(self, *args, **kwargs)
        read_all.wait()
        return answer

    def update_one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
        with serial:
            return update(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "batch_get_item", batch_get_then_wait)
    monkeypatch.setattr(DynamoDBBackend, "update_item", update_one_at_a_time)
    stores = [TextStore(lake.clients.dynamodb, lake.settings.common_texts_table) for _ in range(K)]
    results: list[Any] = [None] * K

    def release(i: int) -> None:
        results[i] = stores[i].resolve(PROGRAM, {ident: common})

    threads = [threading.Thread(target=release, args=(i,)) for i in range(K)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.released_now for r in results) == 1
    assert all(r.released == {ident: common} for r in results)
    assert all(not r.failed for r in results)


def test_erasure_takes_the_person_out_of_the_pending_counts(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K-1 people sent a text; one of them is erased (suppressed, and erase-subject rewrites the
    files that hold them, the count's shards included); one more person then makes K-1 again,
    not K: the erased person no longer counts, and no stored byte names them."""
    lake = handlers
    text = f"Team offsite {unique()}"
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    for person in range(K - 1):
        assert (
            post(focus_batch(f"person-{person}", [text], when["post"]), f"agent-{person}")[0] == 200
        )
    count(when["count"])
    erased = secret(lake).pid("subject", "person-0")
    where_counts = {lake.settings.common_texts_table}  # (the state table lists it: suppressed)
    assert erased in stored_everywhere(lake, tables=where_counts)

    lake.set_state(PROGRAM, "ACTIVE", suppressed=[erased])  # what erase-subject does first
    found = erase.find(PROGRAM, erased)
    assert any("/_common/" in f["key"] for f in found["files"])  # the count's shards too
    for file in found["files"]:
        erase.rewrite(PROGRAM, file["key"], erased)
    assert erased not in stored_everywhere(lake, tables=where_counts)

    later = day_of_hours(when["refill"] + HOUR)
    use_clock(monkeypatch, later["post"])
    assert post(focus_batch("person-new", [text], later["post"]), "agent-new")[0] == 200
    run = count(later["count"])
    assert run["count"]["became_common"] == 0
    assert store_item(lake, tid(lake, text)) is None
    use_clock(monkeypatch, later["again"])
    assert post(focus_batch("person-newer", [text], later["again"]), "agent-newer")[0] == 200
    assert count(later["count"] + 4 * HOUR)["count"]["became_common"] == 1  # now K people


def test_the_vocabulary_down_means_ids_only_and_a_200(
    handlers: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common text whose release write fails is stored as its id: fail closed, answer 200."""
    from botocore.exceptions import ClientError

    lake = handlers
    common = f"Shared {unique()}"
    TextStore(lake.clients.dynamodb, lake.settings.common_texts_table).mark_common(
        PROGRAM, {tid(lake, common): K}, now_s=0
    )
    when = day_of_hours(next_hour())
    use_clock(monkeypatch, when["post"])
    from lambdas.ingest import handler as ingest_handler

    texts = ingest_handler.service().texts

    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    monkeypatch.setattr(texts._dynamodb, "update_item", refuse)
    status, answer, _ = post(focus_batch("p", [common], when["post"]), "agent-1")
    assert status == 200
    assert answer["accepted"] == 1
    assert texts_of(current_rows(lake), tid(lake, common)) == [None]
    assert store_item(lake, tid(lake, common))["status"]["S"] == "common"  # type: ignore[index]
