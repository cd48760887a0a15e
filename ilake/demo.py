"""`ilake demo`: the whole story on one machine, on local mode (moto server + HTTP API).

1. local mode up: moto on loopback, everything provisioned, one agent token per program;
2. simulated employees of two programs post their sessions over HTTP, each through an agent of
   their own;
3. common text: window titles, labels and menu items are stored as ids only until enough people
   have sent the same text; the hourly count (run here with the clock moved on) finds the common
   ones, the next batches release them, and the hourly run fills them into earlier rows;
4. the API's guarantees at work: an idempotent replay, 401, 403, 404 and a 400 that echoes
   nothing;
5. every stored object checked through the S3 endpoint: SSE-KMS under its program's own key;
6. the analysts' named queries (the Athena SQL, run by DuckDB) and one privacy check;
7. governance: erase one person, pause a program with its key locked, purge it with a second
   person's approval;
8. the report of what the lake holds after all that, a self-contained HTML page.
No AWS account, no Docker, no network beyond loopback.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from .loadgen import SUBJECTS, Agent
from .local import LocalModeError, LocalStack, LocalState, free_port
from .simulate import make_batch
from .ui import print_rows, print_summary, simulate_with_progress, utc


class DemoError(Exception):
    """The demo could not run (the message says why); nothing is left running."""


def run(
    programs_dir: Path,
    *,
    state_dir: Path,
    agents: int = 12,
    minutes: float = 6,
    console: Console,
) -> Path:
    """Run every step; returns the report's path."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the handlers' logs: warnings only
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(programs_dir=programs_dir, state_dir=state_dir, port=free_port())
    step = _Steps(console)
    step("Local mode up")
    try:
        state = stack.start()
    except LocalModeError as exc:
        raise DemoError(str(exc)) from None
    try:
        console.print(f"API {state.api_url}, AWS (moto) {state.aws_endpoint_url}")
        console.print(
            f"programs {', '.join(state.programs)}: one agent token each, stored as SHA-256 only"
        )
        programs = list(state.programs)[:2]

        step(f"Simulated employees post {minutes:g} minutes of work each, over HTTP")
        for seed, program in enumerate(programs):
            summary = simulate_with_progress(
                state, program, agents=agents, minutes=minutes, seed=seed, spread_hours=8
            )
            print_summary(summary)

        step("Common text: stored in clear only once enough people have sent it")
        _common_texts(state, programs, agents, console)

        step("The API's guarantees")
        _guarantees(state, programs, console)

        step("Every stored object, checked through the S3 endpoint")
        _check_encryption(state, console)

        step("Analysts' queries: the Athena named queries, run unchanged by DuckDB")
        from .query import open_lake

        con = open_lake(
            endpoint_url=state.aws_endpoint_url,
            bucket=state.bucket,
            region=state.region,
            in_memory=True,
        )
        _queries(con, programs, console)
        con.close()

        step("Governance: erase one person, pause with a lock, purge with a second approval")
        _governance(state, programs, console)

        step("Report: what the lake holds now, after the governance steps")
        from .report import local_report

        report = local_report(state, state_dir / "report.html")
        console.print(f"[bold]report:[/] {report.resolve()}")
        return report
    finally:
        stack.stop()
        console.print("local mode stopped (moto and the API are down; nothing left running)")


class _Steps:
    def __init__(self, console: Console) -> None:
        self.console, self.n, self.started = console, 0, time.perf_counter()

    def __call__(self, title: str) -> None:
        self.n += 1
        elapsed = time.perf_counter() - self.started
        self.console.print(f"\n[bold cyan]{self.n}. {title}[/]  [dim]at {elapsed:.0f} s[/]")


def _guarantees(state: LocalState, programs: list[str], console: Console) -> None:
    first, second = programs[0], programs[-1]
    now = int(time.time() * 1000)
    batch = make_batch(50, seed=99, start_ms=now - 60_000)
    agent = Agent(state.api_url, state.programs[first]["token"], first)
    status, answer, _ = agent.post(batch)
    replay_status, replay, _ = agent.post(batch)
    console.print(
        f"a batch: {status}; the same batch again: {replay_status}, same answer "
        f"{replay == answer} (one object, written once)"
    )
    foreign = Agent(state.api_url, state.programs[second]["token"], first)
    console.print(f"{second}'s token on {first}: {foreign.post(_fresh(batch))[0]}")
    stranger = Agent(state.api_url, "ilk_" + "x" * 43, first)
    console.print(f"an unknown token: {stranger.post(_fresh(batch))[0]}")
    planted = "jane.roe@example.com"
    garbled = Agent(state.api_url, state.programs[first]["token"], first)
    status, error, _ = garbled.send(f'{{"schema": "{planted}"'.encode(), encoding="identity")
    console.print(
        f"a malformed body: {status} {error.get('error')}; the body is echoed: "
        f"{planted in str(error)}"
    )
    for agent_ in (agent, foreign, stranger, garbled):
        agent_.close()


def _fresh(batch: dict[str, Any]) -> dict[str, Any]:
    return {**batch, "batch_id": str(uuid.uuid4())}


def _governance(state: LocalState, programs: list[str], console: Console) -> None:
    """The workflows the platform team runs, on the same state machines as in the cloud."""
    import threading

    import boto3

    from .local import RESOURCE_NAMES
    from .workflows import Governance

    first, second = programs[0], programs[-1]
    governance = Governance.local(
        state,
        state_table=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
        audit_table=RESOURCE_NAMES["AUDIT_TABLE"],
    )

    def run(workflow: str, **payload: Any) -> dict[str, Any]:
        outcome = governance.wait(governance.start(workflow, payload), 120)
        if outcome.status != "SUCCEEDED":
            raise DemoError(f"{workflow} {outcome.status}: {outcome.error}")
        return dict(outcome.output or {})

    erased = run(
        "erase-subject", program=first, subject=SUBJECTS[0], reason="art. 17", requested_by="dpo"
    )
    console.print(
        f"erase {SUBJECTS[0]!r} from {first}: {erased['rows']} rows in {erased['files']} files "
        f"rewritten ({erased['files_scanned']} files scanned, {erased['row_groups_read']} of "
        f"{erased['row_groups']} row groups read); new events of that person are dropped"
    )
    run("pause", program=second, reason="incident 42", requested_by="alice", lock=True)
    agent = Agent(state.api_url, state.programs[second]["token"], second)
    status, answer, _ = agent.post(make_batch(10, seed=7, start_ms=int(time.time() * 1000)))
    agent.close()
    kms = boto3.client("kms", region_name=state.region)
    key = kms.describe_key(KeyId=state.programs[second]["key_id"])["KeyMetadata"]["KeyState"]
    console.print(f"pause {second} with lock: an agent now gets {status} {answer}; key {key}")

    purging = governance.start(
        "purge", {"program": second, "reason": "DPIA withdrawn", "requested_by": "alice"}
    )
    governance.approve(second, "alice")
    console.print("purge requested by alice; alice's own approval: refused and audited")
    threading.Thread(target=governance.approve, args=(second, "bob"), daemon=True).start()
    outcome = governance.wait(purging, 300)
    if outcome.status != "SUCCEEDED":
        raise DemoError(f"purge {outcome.status}: {outcome.error}")
    done = outcome.output or {}
    key = kms.describe_key(KeyId=state.programs[second]["key_id"])["KeyMetadata"]["KeyState"]
    console.print(
        f"bob approves: {second} purged, {done['objects']} object versions "
        f"({done['bytes'] / 1e6:.1f} MB), {done['delete_markers']} delete markers and "
        f"{done['texts']} common-text items deleted, secret deleted, key {key}, verified empty"
    )
    rows = [
        (
            utc(r.get("at"))[11:],
            r.get("program", ""),
            r.get("action", ""),
            r.get("outcome", ""),
            r.get("requested_by", ""),
            r.get("approved_by", ""),
        )
        for r in governance.audit()
    ]
    print_rows(
        ["at", "program", "action", "outcome", "by", "approved by"],
        rows,
        title="Audit trail (append-only)",
    )


def _common_texts(state: LocalState, programs: list[str], agents: int, console: Console) -> None:
    """Pending, then counted, released and filled in: the hourly run with the clock moved on
    (an hour closes 15 minutes after it ends), and a few more minutes of the same people's
    work in between."""
    from datetime import UTC, datetime, timedelta

    from lambdas.compaction.handler import handler as hourly
    from lambdas.core.programs import load_programs

    from .common_texts import text_status
    from .query import open_lake

    def status(title: str) -> None:
        con = open_lake(
            endpoint_url=state.aws_endpoint_url,
            bucket=state.bucket,
            region=state.region,
            in_memory=True,
        )
        rows = [
            (s.program, s.field, s.values, s.released, s.pending, s.released_texts, s.pending_texts)
            for s in text_status(con)
        ]
        columns = ["program", "field", "values", "in clear", "ids only", "texts released",
                   "texts pending"]  # fmt: skip
        print_rows(columns, rows, title=title)

    declared = load_programs(Path(os.environ["PROGRAMS_DIR"]))
    for program in programs:
        k = declared[program].text.min_people
        people = f"{agents} people" if agents >= k else f"{agents} people: none can become common"
        console.print(f"{program}: a text is kept in clear once {k} people sent it ({people})")
    status("Before the hourly count: every text is an id (an HMAC) beside an empty text column")
    # batches land in the hour they arrive (this one), which closes 15 minutes after it ends
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for program in programs:
        run = hourly({"program": program, "now": (hour + timedelta(hours=2)).isoformat()})
        count = run["count"]
        console.print(
            f"{program}: the hourly count read {count['files']} batch files, "
            f"{count['contributions']} (text, agent, person) contributions; "
            f"{count['became_common']} texts became common, {count['pending_texts']} stay pending"
        )
    for seed, program in enumerate(programs):
        more = simulate_with_progress(state, program, agents=agents, minutes=2, seed=seed + 10)
        print_summary(more)
    later = (hour + timedelta(hours=4, minutes=30)).isoformat()  # 3.5 hours after it ended
    for program in programs:
        run = hourly({"program": program, "now": later})
        filled = sum(r["texts_filled"] for r in [*run["partitions"], *run["refills"]])
        console.print(
            f"{program}: the next batches released the common texts; 3 hours on, the hourly run "
            f"filled {filled} values into the rows written before"
        )
    status("After: common texts in clear everywhere, texts one person saw still ids only")


def _check_encryption(state: LocalState, console: Console) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=state.region)
    keys = {name: program["key_id"] for name, program in state.programs.items()}
    checked = good = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=state.bucket, Prefix="interactions/"
    ):
        for item in page.get("Contents", []):
            program = item["Key"].split("/")[1].removeprefix("program=")
            head = s3.head_object(Bucket=state.bucket, Key=item["Key"])
            checked += 1
            size += item["Size"]
            good += (
                head.get("ServerSideEncryption") == "aws:kms"
                and head.get("SSEKMSKeyId") == keys.get(program)
                and head.get("BucketKeyEnabled") is True
            )
    console.print(
        f"{checked} Parquet objects ({size / 1e6:.1f} MB, zstd): {good} of {checked} are "
        "SSE-KMS under their own program's key with bucket keys on"
    )


def _queries(con: Any, programs: list[str], console: Console) -> None:
    from datetime import UTC, datetime

    from lambdas.core.analytics import named_queries

    from .query import run_duckdb

    today = datetime.now(UTC).date()
    for program in programs:
        for query in named_queries().values():
            result = run_duckdb(con, *query.bind(program=program, dt=today))
            print_rows(
                result.columns,
                result.rows[:5],
                title=f"{query.name} ({program}): {len(result.rows)} rows, first 5",
            )
    raw_subjects = ", ".join(f"'{s}'" for s in SUBJECTS)
    check = run_duckdb(
        con,
        "SELECT program, count(*) AS events, count(DISTINCT subject_pid) AS people, "  # noqa: S608 - our constants
        f"count_if(subject_pid IN ({raw_subjects})) AS raw_names_stored, "
        "count_if(regexp_matches(window_title, '[^@ ]+@[^@ ]+')) AS emails_in_titles, "
        "count_if(key_class IS NOT NULL) AS keys_as_class_only "
        "FROM interactions GROUP BY program ORDER BY program",
    )
    print_rows(check.columns, check.rows, title="Privacy check: what could identify people")
    console.print(
        "subjects are HMAC pseudonyms under each program's own secret; typed text and clipboard "
        "content are not columns of the lake at all"
    )
