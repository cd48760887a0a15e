"""The smoke test of a stack (`ilake smoke`): one temporary agent and a few small synthetic
batches through every part a first deployment must prove, each step timed and reported.

The steps: the program is ACTIVE; enroll a temporary agent; read the program's policy; post a
batch of the event types the policy collects; find its object in the lake bucket, SSE-KMS under
the program's own key; count its rows by batch id with the analysts' SQL; pause the program and
expect 423; resume it and post again; revoke the temporary agent. The first step that fails
stops the run (`SmokeFailed` names the step and why, never a token or submitted content); the
agent is revoked and a pause it made is resumed on the way out.

Everything reaches the stack through `SmokeTarget`: a deployed stack (Athena for the query) or
local mode (DuckDB for the query, since moto's Athena runs no SQL:
docs/design.md#what-moto-cannot-do).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdas.core import names

from .loadgen import Agent
from .simulate import make_batch

SMOKE_AGENT_PREFIX = "ilake-smoke-"
SMOKE_SUBJECT = "ilake-smoke"  # the person the synthetic events are of: nobody's account name
REQUESTED_BY = "ilake smoke"
BATCH_EVENTS = 200  # synthetic events made; the batch keeps those of the types the policy collects
ROW_COUNT_SQL = (
    "SELECT count(*) AS n FROM interactions WHERE program = ? AND dt = ? AND batch_id = ?"
)
_PARTITION = re.compile(r"^interactions/program=(?P<program>[^/]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/")


class SmokeFailed(Exception):
    """A step failed: `step` names it, the message says why (no content, no token)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    passed: bool
    seconds: float
    detail: str


@dataclass(frozen=True, slots=True)
class SmokeTarget:
    """Where the smoke test runs, and how it reaches each part of the stack."""

    where: str  # "AWS" or "local mode", for the report
    api_url: str  # the stage URL the agents use (ends before /v1/programs/...)
    bucket: str
    agents_table: str
    dynamodb: Any
    s3: Any
    kms: Any
    governance: Any  # ilake.workflows.Governance
    count_rows: Callable[[str, Sequence[str]], int]  # the row-count SQL with its values -> count
    query_engine: str  # what ran count_rows, said in the query step's line
    revocation_is_immediate: bool  # local mode: yes; AWS: within the authorizer's cache TTL
    workflow_timeout_s: float = 120


@dataclass
class _Run:
    target: SmokeTarget
    program: str
    report: Callable[[Step], None]
    clock: Callable[[], float]
    steps: list[Step] = field(default_factory=list)
    agent_id: str = ""
    token: str = ""
    enrolled: bool = False
    paused: bool = False

    def step(self, name: str, action: Callable[[], str]) -> None:
        started = self.clock()
        try:
            detail = action()
        except Exception as exc:  # a step's call, reported as one line
            reason = _reason(exc)
        else:
            self._record(Step(name, True, self.clock() - started, detail))
            return
        self._record(Step(name, False, self.clock() - started, reason))
        raise SmokeFailed(name, reason)

    def _record(self, step: Step) -> None:
        self.steps.append(step)
        self.report(step)


def run_smoke(
    target: SmokeTarget,
    program: str,
    *,
    report: Callable[[Step], None],
    clock: Callable[[], float] = time.perf_counter,
) -> list[Step]:
    """Run every step against `target`, reporting each as it ends; returns them all. The first
    failure raises SmokeFailed after cleaning up (revoke the agent, resume a pause it made)."""
    run = _Run(target, program, report, clock)
    try:
        _steps(run)
    except SmokeFailed:
        _clean_up(run)
        raise
    return run.steps


def _steps(run: _Run) -> None:
    target, program = run.target, run.program
    run.step("program state", lambda: _is_active(target, program))
    run.step("enroll", lambda: _enroll(run))
    policy: dict[str, Any] = {}
    run.step("policy", lambda: _read_policy(run, policy))
    first: dict[str, Any] = {}
    run.step("post", lambda: _post_stored(run, "post", policy, first))
    run.step("lake object", lambda: _object_encrypted(target, program, first["object"]))
    run.step("query", lambda: _rows_found(target, program, first))
    run.step("pause", lambda: _workflow(run, "pause"))
    run.step("post while paused", lambda: _post_refused(run, policy))
    run.step("resume", lambda: _workflow(run, "resume"))
    run.step("post after resume", lambda: _post_stored(run, "post after resume", policy, {}))
    run.step("revoke", lambda: _revoke(run))


def _is_active(target: SmokeTarget, program: str) -> str:
    records: list[dict[str, Any]] = target.governance.status()
    record = next((r for r in records if r.get("program") == program), {})
    state = str(record.get("state", "ACTIVE"))
    if state != "ACTIVE":
        raise SmokeFailed(
            "program state",
            f"{program} is {state}: the smoke test pauses and resumes its program, so it runs "
            "only on an ACTIVE one (and never resumes a pause it did not make)",
        )
    return f"{program} is ACTIVE on {target.where}"


def _enroll(run: _Run) -> str:
    from lambdas.adapters.agents_table import enroll_agent

    run.agent_id = f"{SMOKE_AGENT_PREFIX}{uuid.uuid4().hex[:8]}"
    enrolled = enroll_agent(
        run.target.dynamodb,
        run.target.agents_table,
        program=run.program,
        agent_id=run.agent_id,
        ttl_days=1,
    )
    run.token, run.enrolled = enrolled.token, True
    return f"temporary agent {run.agent_id}, token fingerprint {enrolled.fingerprint}, 1 day"


def _read_policy(run: _Run, policy: dict[str, Any]) -> str:
    url = f"{run.target.api_url.rstrip('/')}/v1/programs/{run.program}/policy"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {run.token}"})  # noqa: S310 - the stack's own URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SmokeFailed("policy", f"GET policy answered {exc.code}, expected 200") from None
    except urllib.error.URLError as exc:
        reason = type(exc.reason).__name__ if isinstance(exc.reason, OSError) else "URLError"
        raise SmokeFailed("policy", f"cannot reach {run.target.api_url}: {reason}") from None
    except ValueError:
        raise SmokeFailed(
            "policy", "GET policy answered 200 with a body that is not JSON"
        ) from None
    types = answer.get("collect", {}).get("event_types") if isinstance(answer, dict) else None
    if answer.get("program") != run.program or not types:
        raise SmokeFailed("policy", "the policy does not name this program and its event types")
    policy.update(answer)
    return f"{answer.get('policy_version', run.program)}: collects {', '.join(types)}"


def _batch(policy: dict[str, Any], device: str) -> dict[str, Any]:
    """A fresh synthetic batch of the event types the policy collects, sequence renumbered."""
    now = int(time.time() * 1000)
    batch = make_batch(
        BATCH_EVENTS, seed=now % 1000, start_ms=now - 60_000, subject=SMOKE_SUBJECT, device=device
    )
    collected = set(policy["collect"]["event_types"])
    events = [event for event in batch["events"] if event["type"] in collected]
    for seq, event in enumerate(events):
        event["seq"] = seq
    return {**batch, "batch_id": str(uuid.uuid4()), "events": events}


def _post(run: _Run, step: str, policy: dict[str, Any]) -> tuple[int, dict[str, Any], str, int]:
    batch = _batch(policy, run.agent_id)
    agent = Agent(run.target.api_url, run.token, run.program)
    try:
        status, answer, _ = agent.post(batch)
    except OSError as exc:
        raise SmokeFailed(
            step, f"cannot reach {run.target.api_url}: {type(exc).__name__}"
        ) from None
    finally:
        agent.close()
    return status, answer, batch["batch_id"], len(batch["events"])


def _post_stored(run: _Run, step: str, policy: dict[str, Any], answer_out: dict[str, Any]) -> str:
    status, answer, batch_id, sent = _post(run, step, policy)
    if status != 200:
        raise SmokeFailed(step, f"expected 200, got {status} {answer.get('error', '')}".rstrip())
    if answer.get("batch_id") != batch_id or not answer.get("accepted") or not answer.get("object"):
        raise SmokeFailed(step, "200 without this batch's id, accepted events and object")
    answer_out.update(answer)
    rejected = sum(answer.get("rejected", {}).values())
    return (
        f"200: {answer['accepted']} of {sent} events stored ({rejected} not stored), "
        f"object {answer['object']}"
    )


def _object_encrypted(target: SmokeTarget, program: str, key: str) -> str:
    head = target.s3.head_object(Bucket=target.bucket, Key=key)
    program_key = target.kms.describe_key(KeyId=names.key_alias(program))["KeyMetadata"]["Arn"]
    found = (
        head.get("ServerSideEncryption"),
        head.get("SSEKMSKeyId"),
        head.get("BucketKeyEnabled"),
    )
    if found != ("aws:kms", program_key, True):
        raise SmokeFailed(
            "lake object",
            f"the object is not SSE-KMS under {names.key_alias(program)} with a bucket key "
            f"(encryption {found[0]}, key {found[1]}, bucket key {found[2]})",
        )
    return f"s3://{target.bucket}/{key}: {head['ContentLength']} bytes, SSE-KMS under {program_key}"


def _rows_found(target: SmokeTarget, program: str, answer: dict[str, Any]) -> str:
    partition = _PARTITION.match(answer["object"])
    if partition is None or partition["program"] != program:
        raise SmokeFailed("query", "the object is not under the program's lake partition")
    from .query import QueryError

    try:
        rows = target.count_rows(ROW_COUNT_SQL, [program, partition["dt"], answer["batch_id"]])
    except QueryError as exc:
        raise SmokeFailed("query", f"the query was refused: {exc}") from None
    if rows != answer["accepted"]:
        raise SmokeFailed("query", f"{rows} rows of the batch, expected {answer['accepted']}")
    return f"{rows} rows with its batch id, on {target.query_engine}"


def _workflow(run: _Run, workflow: str) -> str:
    governance = run.target.governance
    payload: dict[str, Any] = {
        "program": run.program,
        "reason": "smoke test of the deployment",
        "requested_by": REQUESTED_BY,
    }
    if workflow == "pause":
        payload["lock"] = False
    execution = governance.start(workflow, payload)
    if workflow == "pause":
        run.paused = True  # from now on, the way out resumes it
    outcome = governance.wait(execution, run.target.workflow_timeout_s)
    if outcome.status != "SUCCEEDED":
        raise SmokeFailed(workflow, f"the {workflow} workflow {outcome.status}: {outcome.error}")
    if workflow == "resume":
        run.paused = False
    return f"the {workflow} workflow succeeded (audited, by {REQUESTED_BY!r})"


def _post_refused(run: _Run, policy: dict[str, Any]) -> str:
    status, answer, _, _ = _post(run, "post while paused", policy)
    if status != 423:
        raise SmokeFailed("post while paused", f"expected 423, got {status}")
    return (
        f"423 {answer.get('error', 'not_collecting')}: agents stop capturing and drop their spool"
    )


def _revoke_agent(run: _Run) -> int:
    from lambdas.adapters.agents_table import revoke_agent_id

    revoked = revoke_agent_id(
        run.target.dynamodb, run.target.agents_table, program=run.program, agent_id=run.agent_id
    )
    run.enrolled = False
    return revoked


def _revoke(run: _Run) -> str:
    revoked = _revoke_agent(run)
    if revoked != 1:
        raise SmokeFailed("revoke", f"{revoked} active tokens of {run.agent_id}, expected 1")
    if not run.target.revocation_is_immediate:
        return (
            f"{run.agent_id} revoked; API Gateway honours it within the authorizer's cache TTL "
            "(not waited for)"
        )
    agent = Agent(run.target.api_url, run.token, run.program)
    try:
        status = agent.post(make_batch(1, start_ms=int(time.time() * 1000), subject=SMOKE_SUBJECT))[
            0
        ]
    except OSError as exc:
        raise SmokeFailed(
            "revoke", f"cannot reach {run.target.api_url}: {type(exc).__name__}"
        ) from None
    finally:
        agent.close()
    if status != 401:
        raise SmokeFailed("revoke", f"the revoked token got {status}, expected 401")
    return f"{run.agent_id} revoked; its token now gets 401 ({run.target.where}: at once)"


def _clean_up(run: _Run) -> None:
    """After a failure: the temporary agent revoked, a pause the smoke test made resumed."""
    if run.enrolled:
        try:
            _revoke_agent(run)
        except Exception as exc:  # reported; the failure that stopped us is the news
            run.report(Step("cleanup: revoke", False, 0.0, _reason(exc)))
        else:
            run.report(Step("cleanup: revoke", True, 0.0, f"{run.agent_id} revoked"))
    if run.paused:
        try:
            _workflow(run, "resume")
        except Exception as exc:
            detail = f"{run.program} stays PAUSED ({_reason(exc)}): ilake resume it"
            run.report(Step("cleanup: resume", False, 0.0, detail))
        else:
            run.report(Step("cleanup: resume", True, 0.0, f"{run.program} resumed"))


def _reason(exc: BaseException) -> str:
    """One line for an exception from an AWS or HTTP call, never its own text."""
    from botocore import exceptions as aws

    if isinstance(exc, SmokeFailed):
        return str(exc)
    if isinstance(exc, aws.ClientError):
        return f"AWS refused {exc.operation_name}: {exc.response.get('Error', {}).get('Code')}"
    if isinstance(exc, aws.NoCredentialsError | aws.NoRegionError):
        return f"AWS is not configured: {type(exc).__name__}"
    if isinstance(exc, aws.BotoCoreError | OSError):
        return f"cannot reach the stack: {type(exc).__name__}"
    return f"unexpected {type(exc).__name__}"
