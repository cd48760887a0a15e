"""The governance workflows executed by moto's Step Functions, from the same ASL files as the CDK
app, with the governance Lambdas run in process (ilake/workflows.py's invoke shim)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ilake import workflows
from ilake.simulate import make_batch
from lambdas.adapters.text_store import TextStore
from lambdas.core import resources
from lambdas.core.lake import program_prefix
from lambdas.core.pseudonym import Pseudonymizer
from lambdas.governance import purge
from tests.support.api import gzip_event, invoke
from tests.support.lake import Lake, lake_environment, provisioned_lake

pytestmark = pytest.mark.integration
PROGRAM, OTHER = "menu-navigation", "everything"


class Governed(Lake):
    """The provisioned lake with its governance workflows, and batches posted to it."""

    def post(self, program: str, n: int = 30, seed: int = 0, subject: str = "jdoe") -> Any:
        batch = make_batch(n, seed=seed, start_ms=int(time.time() * 1000) - 60_000, subject=subject)
        return invoke(gzip_event(program, batch))


@pytest.fixture
def governed(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Governed]:
    monkeypatch.setenv("PURGE_PAGE_SIZE", "7")  # several pages even for a small lake
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with provisioned_lake(lake_environment(), governance=True, kind=Governed) as lake:
        yield lake


def pause(g: Governed, program: str = PROGRAM, *, lock: bool = False) -> workflows.Outcome:
    return g.run("pause", program=program, reason="investigation", requested_by="alice", lock=lock)


# -- pause and resume --------------------------------------------------------------------------


def test_pause_answers_423_at_once_and_nothing_is_written_after(governed: Governed) -> None:
    assert governed.post(PROGRAM)[0] == 200
    before = governed.versions(program_prefix(PROGRAM))[0]
    outcome = pause(governed)
    assert (outcome.status, outcome.output) == (
        "SUCCEEDED",
        {"program": PROGRAM, "state": "PAUSED", "locked": False},
    )
    status, body, _ = governed.post(PROGRAM, seed=1)
    assert (status, body["status"], body["collect"]) == (423, "paused", False)
    assert governed.versions(program_prefix(PROGRAM))[0] == before
    assert governed.key_state(PROGRAM) == "Enabled"
    [record] = governed.audit(PROGRAM)
    assert record["action"] == "pause"
    assert record["outcome"] == "paused"
    assert record["requested_by"] == "alice"
    assert record["reason"] == "investigation"
    assert record["execution"] == outcome.execution_arn


def test_lock_disables_the_key_and_resume_enables_it_and_ingest_again(governed: Governed) -> None:
    assert pause(governed, lock=True).status == "SUCCEEDED"
    assert governed.key_state(PROGRAM) == "Disabled"
    assert governed.post(PROGRAM)[0] == 423
    resumed = governed.run("resume", program=PROGRAM, reason="cleared", requested_by="bob")
    assert resumed.output == {"program": PROGRAM, "state": "ACTIVE", "unlocked": True}
    assert governed.key_state(PROGRAM) == "Enabled"
    assert governed.post(PROGRAM, seed=2)[0] == 200
    assert [r["action"] for r in governed.audit(PROGRAM)] == ["pause", "resume"]


def test_pause_of_a_paused_program_and_resume_of_an_active_one_are_refused(
    governed: Governed,
) -> None:
    refused = governed.run("resume", program=PROGRAM, reason="r", requested_by="bob")
    assert (refused.status, refused.error) == ("FAILED", "NotPaused")
    assert pause(governed).status == "SUCCEEDED"
    again = pause(governed)
    assert (again.status, again.error) == ("FAILED", "NotActive")
    outcomes = [r["outcome"] for r in governed.audit(PROGRAM)]
    assert sorted(outcomes) == sorted(
        ["refused: program is not PAUSED", "paused", "refused: program is not ACTIVE"]
    )


def test_an_undeclared_program_is_refused_before_anything_is_written(governed: Governed) -> None:
    for workflow in resources.WORKFLOWS:
        outcome = governed.run(
            workflow, program="nope", reason="r", requested_by="a", lock=False, subject="x"
        )
        assert (outcome.status, outcome.error) == ("FAILED", "UnknownProgram")
    assert governed.state("nope") == {}
    assert governed.audit("nope") == []


# -- purge -------------------------------------------------------------------------------------


def fill(g: Governed, program: str, batches: int) -> None:
    for seed in range(batches):
        assert g.post(program, n=20, seed=seed, subject=f"user{seed % 3}")[0] == 200


def test_purge_of_an_active_program_is_refused(governed: Governed) -> None:
    fill(governed, PROGRAM, 2)
    outcome = governed.run("purge", program=PROGRAM, reason="r", requested_by="alice")
    assert (outcome.status, outcome.error) == ("FAILED", "NotPaused")
    assert len(governed.versions(program_prefix(PROGRAM))[0]) == 2
    assert governed.audit(PROGRAM)[-1]["outcome"].startswith("refused")


def common_texts(g: Governed, program: str, n: int) -> None:
    """Items of the common-text vocabulary, as the count and releases leave them."""
    store = TextStore(g.clients.dynamodb, g.settings.common_texts_table)
    store.mark_common(program, {f"h:{program[:4]}{i:012x}": 5 for i in range(n)}, now_s=0)


def texts_of(g: Governed, program: str) -> int:
    return TextStore(g.clients.dynamodb, g.settings.common_texts_table).count(program)


def test_purge_deletes_everything_of_the_program_and_nothing_else(governed: Governed) -> None:
    fill(governed, PROGRAM, 12)
    fill(governed, OTHER, 3)
    common_texts(governed, PROGRAM, 30)  # more than a page (25) of items, and the mark
    common_texts(governed, OTHER, 3)
    prefix = program_prefix(PROGRAM)
    first = governed.versions(prefix)[0][0]["Key"]
    governed.clients.s3.delete_object(Bucket=governed.bucket, Key=first)  # a delete marker
    versions, markers = governed.versions(prefix)
    expected_bytes = sum(v["Size"] for v in versions)
    others = {
        v["Key"]: governed.clients.s3.get_object(Bucket=governed.bucket, Key=v["Key"])[
            "Body"
        ].read()
        for v in governed.versions(program_prefix(OTHER))[0]
    }
    assert pause(governed).status == "SUCCEEDED"

    execution = governed.start(
        "purge", program=PROGRAM, reason="DPIA withdrawn", requested_by="alice"
    )
    assert governed.approve(PROGRAM, "alice") == "alice"  # the requester: refused, audited
    governed.approve(PROGRAM, "bob")
    outcome = workflows.wait(governed.sfn, execution)

    assert outcome.status == "SUCCEEDED"
    assert outcome.output == {
        "program": PROGRAM,
        "state": "PURGED",
        "approved_by": "bob",
        "objects": len(versions),
        "bytes": expected_bytes,
        "delete_markers": len(markers),
        "texts": 31,
    }
    assert governed.versions(prefix) == ([], [])
    assert texts_of(governed, PROGRAM) == 0
    assert texts_of(governed, OTHER) == 4
    with pytest.raises(governed.clients.secretsmanager.exceptions.ResourceNotFoundException):
        governed.clients.secretsmanager.describe_secret(
            SecretId=governed.settings.secret_name(PROGRAM)
        )
    assert governed.key_state(PROGRAM) == "PendingDeletion"
    assert governed.state(PROGRAM)["state"]["S"] == "PURGED"
    after = {
        v["Key"]: governed.clients.s3.get_object(Bucket=governed.bucket, Key=v["Key"])[
            "Body"
        ].read()
        for v in governed.versions(program_prefix(OTHER))[0]
    }
    assert after == others
    assert governed.key_state(OTHER) == "Enabled"
    trail = governed.audit(PROGRAM)
    assert [(r["action"], r["outcome"]) for r in trail] == [
        ("pause", "paused"),
        ("purge-approval", "refused: self-approval"),
        ("purge-approval", "approved"),
        ("purge", "purged"),
    ]
    assert trail[-1]["objects"] == str(len(versions))
    assert trail[-1]["bytes"] == str(expected_bytes)
    assert trail[-1]["texts"] == "31"  # how many, never which
    assert trail[-1]["approved_by"] == "bob"
    assert governed.post(PROGRAM, seed=99)[0] == 423  # a purged program never collects again


def test_a_second_purge_while_one_runs_is_refused_cleanly(governed: Governed) -> None:
    """The conditional write is what refuses it. (The second purge starts once the first has
    written PURGING: moto's DynamoDB does not serialize conditional writes from two threads,
    which DynamoDB itself does.)"""
    fill(governed, PROGRAM, 3)
    assert pause(governed).status == "SUCCEEDED"
    first = governed.start("purge", program=PROGRAM, reason="r", requested_by="alice")
    workflows.wait(
        governed.sfn,
        first,
        timeout_s=30,
        until=lambda d: "approval_token" in governed.state(PROGRAM),
    )
    second = governed.run("purge", program=PROGRAM, reason="r", requested_by="carol")
    assert (second.status, second.error) == ("FAILED", "NotPaused")
    governed.approve(PROGRAM, "bob")
    assert workflows.wait(governed.sfn, first).status == "SUCCEEDED"
    assert governed.versions(program_prefix(PROGRAM)) == ([], [])
    outcomes = [r["outcome"] for r in governed.audit(PROGRAM) if r["action"] == "purge"]
    assert sorted(outcomes) == ["purged", "refused: program is not PAUSED, or a purge is running"]


def test_pause_and_purge_race_one_order_wins(governed: Governed) -> None:
    """A purge started while the pause is in flight either sees PAUSED or is refused."""
    fill(governed, PROGRAM, 2)
    pausing = governed.start("pause", program=PROGRAM, reason="r", requested_by="alice", lock=False)
    purging = governed.start("purge", program=PROGRAM, reason="r", requested_by="alice")
    assert workflows.wait(governed.sfn, pausing).status == "SUCCEEDED"
    raced = workflows.wait(
        governed.sfn, purging, until=lambda d: "approval_token" in governed.state(PROGRAM)
    )
    if raced.status == "FAILED":
        assert raced.error == "NotPaused"
        assert governed.state(PROGRAM)["state"]["S"] == "PAUSED"
    else:
        assert governed.state(PROGRAM)["state"]["S"] == "PURGING"
        governed.approve(PROGRAM, "bob")
        assert workflows.wait(governed.sfn, purging).status == "SUCCEEDED"


def test_a_fault_mid_purge_fails_cleanly_and_a_rerun_finishes_with_exact_counts(
    governed: Governed,
) -> None:
    fill(governed, PROGRAM, 20)
    versions, _ = governed.versions(program_prefix(PROGRAM))
    expected = (len(versions), sum(v["Size"] for v in versions))
    assert pause(governed).status == "SUCCEEDED"

    calls = {"n": 0}

    def flaky(event: dict[str, Any], context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= 2:  # the first page is deleted, then S3 "fails" for good
            raise ConnectionError("injected")
        return purge.handler(event, context)

    workflows.install_invoke_shim({resources.LOCAL_FUNCTION_NAMES["PurgeFunction"]: flaky})
    try:
        execution = governed.start("purge", program=PROGRAM, reason="r", requested_by="alice")
        governed.approve(PROGRAM, "bob")
        failed = workflows.wait(governed.sfn, execution, timeout_s=60)
    finally:
        workflows.install_invoke_shim(workflows.local_handlers())
    assert (failed.status, failed.error) == ("FAILED", "PurgeFailed")
    left = len(governed.versions(program_prefix(PROGRAM))[0])
    assert 0 < left < expected[0]
    assert governed.state(PROGRAM)["state"]["S"] == "PURGING"
    assert governed.audit(PROGRAM)[-1]["outcome"] == "failed: ConnectionError"

    rerun = governed.run("purge", program=PROGRAM, reason="finish", requested_by="alice")
    assert rerun.status == "SUCCEEDED", rerun.cause
    assert (rerun.output["objects"], rerun.output["bytes"]) == expected  # type: ignore[index]
    assert rerun.output["approved_by"] == "bob"  # type: ignore[index]
    assert governed.versions(program_prefix(PROGRAM)) == ([], [])


# -- erase-subject -----------------------------------------------------------------------------


def test_erase_removes_every_row_of_the_subject_and_nothing_else(governed: Governed) -> None:
    fill(governed, PROGRAM, 9)  # subjects user0, user1, user2: three batches each
    before = governed.rows(program_prefix(PROGRAM))
    secret = governed.clients.secretsmanager.get_secret_value(
        SecretId=governed.settings.secret_name(PROGRAM)
    )["SecretString"]
    pid = Pseudonymizer(secret.encode()).pid("subject", "user1")
    assert sum(r["subject_pid"] == pid for r in before) > 0

    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="User1", reason="GDPR art. 17", requested_by="dpo"
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    erased = sum(r["subject_pid"] == pid for r in before)
    assert outcome.output is not None
    assert outcome.output["subject_pid"] == pid
    assert (outcome.output["files"], outcome.output["rows"]) == (3, erased)
    assert outcome.output["files_scanned"] == 9
    assert outcome.output["row_groups_read"] == 3  # the other files were ruled out by statistics

    after = governed.rows(program_prefix(PROGRAM))
    assert not [r for r in after if r["subject_pid"] == pid]
    assert sorted(r["event_id"] for r in after) == sorted(
        r["event_id"] for r in before if r["subject_pid"] != pid
    )
    versions, markers = governed.versions(program_prefix(PROGRAM))
    assert markers == []
    assert all(v["IsLatest"] for v in versions)  # no old version still holds the rows
    assert len(versions) == 6  # user1's files held only user1: deleted, not rewritten empty

    status, answer, _ = governed.post(PROGRAM, seed=50, subject="user1")
    assert status == 200
    assert answer["accepted"] == 0
    assert answer["rejected"]["suppressed_subject"] > 0
    [record] = [r for r in governed.audit(PROGRAM) if r["action"] == "erase-subject"]
    assert (record["files"], record["rows"], record["subject_pid"]) == ("3", str(erased), pid)
    assert "user1" not in str(governed.audit(PROGRAM)).lower()


def test_erase_rewrites_a_shared_file_under_the_programs_key(governed: Governed) -> None:
    batch = make_batch(40, seed=3, start_ms=int(time.time() * 1000) - 60_000, subject="user1")
    for i, event in enumerate(batch["events"]):
        event["subject"] = "user1" if i % 2 else "user2"
    assert invoke(gzip_event(PROGRAM, batch))[0] == 200
    before = governed.rows(program_prefix(PROGRAM))
    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="user1", reason="r", requested_by="dpo"
    )
    assert outcome.status == "SUCCEEDED", outcome.cause
    [version] = governed.versions(program_prefix(PROGRAM))[0]
    head = governed.clients.s3.head_object(Bucket=governed.bucket, Key=version["Key"])
    assert head["SSEKMSKeyId"] == governed.key_arns[PROGRAM]
    assert head["Metadata"]["erased-rows"] == str(outcome.output["rows"])  # type: ignore[index]
    assert head["ServerSideEncryption"] == "aws:kms"
    assert outcome.output is not None
    pid = outcome.output["subject_pid"]
    erased = sum(r["subject_pid"] == pid for r in before)
    assert 0 < erased < len(before)
    assert (outcome.output["files"], outcome.output["rows"]) == (1, erased)
    after = governed.rows(program_prefix(PROGRAM))
    assert sorted(r["event_id"] for r in after) == sorted(
        r["event_id"] for r in before if r["subject_pid"] != pid
    )


def test_erase_is_refused_for_a_purged_program(governed: Governed) -> None:
    governed.clients.dynamodb.put_item(
        TableName=governed.settings.program_state_table,
        Item={"program": {"S": PROGRAM}, "state": {"S": "PURGED"}},
    )
    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="user1", reason="r", requested_by="dpo"
    )
    assert (outcome.status, outcome.error) == ("FAILED", "NotErasable")


def test_erase_of_a_subject_the_lake_never_saw_is_refused_and_suppresses_nobody(
    governed: Governed,
) -> None:
    """A misspelt name: nothing rewritten, nothing suppressed, the refusal audited."""
    fill(governed, PROGRAM, 3)
    before = governed.versions(program_prefix(PROGRAM))
    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="usr1", reason="art. 17", requested_by="dpo"
    )
    assert (outcome.status, outcome.error) == ("FAILED", "SubjectNotFound")
    assert governed.versions(program_prefix(PROGRAM)) == before
    assert "suppressed_subjects" not in governed.state(PROGRAM)
    [record] = [r for r in governed.audit(PROGRAM) if r["action"] == "erase-subject"]
    assert record["outcome"] == "refused: no row of this subject and not suppressed"
    assert record["subject_pid"] == governed.pid(PROGRAM, "usr1")
    assert "usr1" not in str(governed.audit(PROGRAM))
    status, answer, _ = governed.post(PROGRAM, seed=60, subject="usr1")
    assert (status, answer["accepted"] > 0) == (200, True)  # their events are still stored


def test_a_non_boolean_force_is_no_force(governed: Governed) -> None:
    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="usr1", reason="r", requested_by="dpo",
        force="yes",
    )  # fmt: skip
    assert (outcome.status, outcome.error) == ("FAILED", "SubjectNotFound")
    assert "suppressed_subjects" not in governed.state(PROGRAM)


def test_a_forced_erase_of_an_unseen_subject_suppresses_their_future_events(
    governed: Governed,
) -> None:
    fill(governed, PROGRAM, 3)
    before = governed.versions(program_prefix(PROGRAM))
    outcome = governed.run(
        "erase-subject", program=PROGRAM, subject="newcomer", reason="objection",
        requested_by="dpo", force=True,
    )  # fmt: skip
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output is not None
    assert (outcome.output["files"], outcome.output["rows"], outcome.output["forced"]) == (
        0,
        0,
        True,
    )
    assert governed.versions(program_prefix(PROGRAM)) == before
    pid = governed.pid(PROGRAM, "newcomer")
    assert governed.state(PROGRAM)["suppressed_subjects"] == {"SS": [pid]}
    [record] = [r for r in governed.audit(PROGRAM) if r["action"] == "erase-subject"]
    assert (record["outcome"], record["forced"]) == ("erased", True)
    status, answer, _ = governed.post(PROGRAM, seed=61, subject="newcomer")
    assert (status, answer["accepted"]) == (200, 0)
    assert answer["rejected"]["suppressed_subject"] > 0


def test_erasing_an_erased_subject_again_needs_no_force(governed: Governed) -> None:
    """A re-run finds no row left but the subject suppressed: it verifies and succeeds."""
    fill(governed, PROGRAM, 3)
    first = governed.run(
        "erase-subject", program=PROGRAM, subject="user1", reason="r", requested_by="dpo"
    )
    assert first.status == "SUCCEEDED", first.cause
    assert first.output is not None
    assert first.output["rows"] > 0
    assert first.output["forced"] is False
    again = governed.run(
        "erase-subject", program=PROGRAM, subject="user1", reason="r", requested_by="dpo"
    )
    assert again.status == "SUCCEEDED", again.cause
    assert again.output is not None
    assert (again.output["files"], again.output["rows"]) == (0, 0)


def test_the_audit_trail_is_append_only(governed: Governed) -> None:
    assert pause(governed).status == "SUCCEEDED"
    [record] = governed.audit(PROGRAM)
    with pytest.raises(governed.clients.dynamodb.exceptions.ConditionalCheckFailedException):
        governed.clients.dynamodb.put_item(
            TableName=governed.audit_table,
            Item={"program": {"S": PROGRAM}, "at": {"S": record["at"]}, "action": {"S": "x"}},
            ConditionExpression="attribute_not_exists(#at)",
            ExpressionAttributeNames={"#at": "at"},
        )
