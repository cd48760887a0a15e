"""The analyst and operator commands against a running local stack, over real HTTP and the S3
endpoint: simulate, query (DuckDB and Athena), agents, report, and `ilake local up` as a process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ilake.cli import main
from ilake.cli.analytics import LOCAL_ATHENA_NOTICE
from ilake.loadgen import Agent, Summary
from ilake.local import LocalState, free_port
from ilake.metrics import sums_by_program
from ilake.simulate import make_batch
from ilake.ui import simulate_with_progress
from lambdas.adapters.agents_table import enroll_agent
from lambdas.core.analytics import named_queries
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
PROGRAMS = ("menu-navigation", "shortcut-learning")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalState, Path]]:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        yield state, state_dir


@pytest.fixture(scope="module")
def simulated(stack: tuple[LocalState, Path]) -> dict[str, Summary]:
    """Both programs' simulated agents (the agent SDK) delivered over HTTP before any test
    looks at the lake."""
    state, _ = stack
    return {
        program: simulate_with_progress(
            state, program, agents=3, minutes=4, seed=seed, spread_hours=3
        )
        for seed, program in enumerate(PROGRAMS)
    }


def query_json(
    state_dir: Path, sql: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["query", sql, "--format", "json", "--state-dir", str(state_dir), *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_every_simulated_batch_is_acknowledged(simulated: dict[str, Summary]) -> None:
    for summary in simulated.values():
        assert set(summary.batches) == {200}
        assert summary.accepted > 0
        assert summary.events_sent == summary.accepted + sum(summary.rejected.values())
        assert summary.events == summary.events_sent + sum(summary.not_captured.values())
        assert not summary.stopped
    assert simulated["menu-navigation"].redactions["email"] > 0  # on the agents
    # the agents' policy keeps what the program does not collect on the machines
    shortcuts = simulated["shortcut-learning"]
    assert shortcuts.not_captured["denied_app"] > 0
    assert shortcuts.not_captured["type_not_collected"] > 0
    assert "type_not_allowed" not in shortcuts.rejected


def test_the_lake_holds_exactly_what_was_acknowledged(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state_dir = stack
    rows = query_json(
        state_dir,
        "SELECT program, count(*) AS n, count(DISTINCT event_id) AS ids FROM interactions "
        "GROUP BY program ORDER BY program",
        capsys,
    )
    assert rows == [
        {"program": p, "n": simulated[p].accepted, "ids": simulated[p].accepted} for p in PROGRAMS
    ]


def test_every_object_is_encrypted_under_its_programs_key(
    stack: tuple[LocalState, Path], simulated: dict[str, Summary]
) -> None:
    state, _ = stack
    s3 = local_client(state, "s3")
    objects = s3.list_objects_v2(Bucket=state.bucket, Prefix="interactions/")["Contents"]
    assert len(objects) == sum(s.batches[200] for s in simulated.values())
    for item in objects:
        program = item["Key"].split("/")[1].removeprefix("program=")
        head = s3.head_object(Bucket=state.bucket, Key=item["Key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == state.programs[program]["key_id"]
        assert head["BucketKeyEnabled"] is True


def test_handler_metrics_reach_cloudwatch_with_the_counts_agents_were_told(
    stack: tuple[LocalState, Path], simulated: dict[str, Summary]
) -> None:
    """What the server answered the agents (its rejections, what it redacted itself) is what
    its metrics say, and so is what the agents did before sending: the events they did not
    capture (their batches carry the counts) and the redactions in the events stored."""
    state, _ = stack
    cloudwatch = local_client(state, "cloudwatch")
    rejected = sums_by_program(cloudwatch, "Rejected.")
    redactions = sums_by_program(cloudwatch, "Redactions.")
    not_captured = sums_by_program(cloudwatch, "NotCaptured.")
    agent_redactions = sums_by_program(cloudwatch, "AgentRedactions.")
    for program, summary in simulated.items():
        assert rejected.get(program, {}) == dict(summary.rejected)
        assert redactions.get(program, {}) == dict(summary.server_redactions)
        assert not set(summary.not_captured) & set(rejected.get(program, {}))
        assert not_captured.get(program, {}) == dict(summary.not_captured)
        if not summary.rejected:  # every event the agents captured was stored
            assert agent_redactions.get(program, {}) == dict(summary.redactions)
    # pointer sampling happens on the agents now: nothing for the server to sample away
    assert simulated["shortcut-learning"].not_captured["sampled_out"] > 0
    assert "sampled_out" not in rejected.get("shortcut-learning", {})


@pytest.mark.parametrize("program", PROGRAMS)
def test_named_queries_run_through_the_cli(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    program: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state_dir = stack
    capsys.readouterr()
    argv = ["query", "--named", "daily-volume", "--program", program, "--format", "json"]
    assert main([*argv, "--state-dir", str(state_dir)]) == 0
    volume = json.loads(capsys.readouterr().out)
    assert sum(row["events"] for row in volume) == simulated[program].accepted


def named_json(
    state_dir: Path, name: str, program: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> list[dict[str, Any]]:
    capsys.readouterr()
    argv = ["query", "--named", name, "--program", program, "--format", "json", *extra]
    assert main([*argv, "--state-dir", str(state_dir)]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_dt_selects_the_days_each_named_query_reads(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The lake holds today's batches (yesterday's too if the run crossed midnight, UTC): the
    day before the first reads nothing, the last day reads them all."""
    _, state_dir = stack
    [days] = query_json(
        state_dir, "SELECT min(dt) AS first, max(dt) AS last FROM interactions", capsys
    )
    before = (date.fromisoformat(days["first"]) - timedelta(days=1)).isoformat()
    for name in named_queries():
        assert named_json(state_dir, name, "menu-navigation", capsys, "--dt", before) == []
    volume = named_json(state_dir, "daily-volume", "menu-navigation", capsys, "--dt", days["last"])
    assert sum(row["events"] for row in volume) == simulated["menu-navigation"].accepted


def test_a_dt_written_as_sql_is_refused_and_reads_nothing(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state_dir = stack
    for name in named_queries():
        capsys.readouterr()
        argv = ["query", "--named", name, "--program", "menu-navigation", "-f", "json"]
        assert main([*argv, "--dt", "2026-12-02' OR '1'='1", "--state-dir", str(state_dir)]) == 2
        refused = capsys.readouterr()
        assert refused.out == ""
        assert "--dt must be a calendar day" in refused.err
        assert "OR '1'='1" not in refused.err


def test_csv_and_table_formats(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state_dir = stack
    sql = "SELECT type, count(*) AS n FROM interactions GROUP BY 1 ORDER BY 2 DESC, 1"
    capsys.readouterr()
    assert main(["query", sql, "-f", "csv", "--state-dir", str(state_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "type,n"
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == sum(
        s.accepted for s in simulated.values()
    )
    assert main(["query", sql, "--state-dir", str(state_dir)]) == 0
    captured = capsys.readouterr()
    assert "pointer.move" in captured.out
    assert f"{len(lines) - 1} row(s)" in captured.err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM employees", "Table with name employees does not exist"),
        ("SELEKT 1", "syntax error"),
    ],
)
def test_bad_sql_exits_2_with_a_clear_one_line_message(
    stack: tuple[LocalState, Path], sql: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, state_dir = stack
    capsys.readouterr()
    assert main(["query", sql, "--state-dir", str(state_dir)]) == 2
    err = capsys.readouterr().err
    assert "query refused" in err
    assert message in err
    assert "Traceback" not in err


def test_athena_path_runs_in_the_workgroup_and_pages_moto_canned_results(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    canned = {
        "region": state.region,
        "results": [
            {
                "rows": [
                    {"Data": [{"VarCharValue": "type"}, {"VarCharValue": "n"}]},
                    {"Data": [{"VarCharValue": "pointer.click"}, {"VarCharValue": "42"}]},
                ],
                "column_info": [
                    {"Name": "type", "Type": "varchar"},
                    {"Name": "n", "Type": "bigint"},
                ],
            }
        ],
    }
    request = urllib.request.Request(
        f"{state.aws_endpoint_url}/moto-api/static/athena/query-results",
        data=json.dumps(canned).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    rows = query_json(
        state_dir, "SELECT type, count(*) AS n FROM interactions GROUP BY 1", capsys, "--athena"
    )
    assert rows == [{"type": "pointer.click", "n": "42"}]
    executions = local_client(state, "athena").list_query_executions(WorkGroup="interaction-lake")
    assert executions["QueryExecutionIds"]


@pytest.mark.parametrize(
    "argv",
    [
        ["SELECT count(*) FROM interactions"],
        ["SELEKT nonsense FROM nowhere"],
        ["--named", "daily-volume", "--program", "shortcut-learning"],
    ],
    ids=["sql", "invalid-sql", "named"],
)
def test_athena_in_local_mode_says_its_answers_are_canned(
    stack: tuple[LocalState, Path], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto runs no SQL, so even invalid SQL 'succeeds': one line on stderr says so, and what
    came back is still shown."""
    _, state_dir = stack
    capsys.readouterr()
    assert main(["query", *argv, "--athena", "--state-dir", str(state_dir)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == LOCAL_ATHENA_NOTICE
    assert "canned results" in err[0]
    assert "leave out --athena" in err[0]
    assert err[-1].endswith("row(s)")


def test_athena_gets_a_named_querys_values_as_execution_parameters(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """moto records the query and its execution parameters (and runs no SQL)."""
    state, state_dir = stack
    athena = local_client(state, "athena")
    before = set(athena.list_query_executions(WorkGroup="interaction-lake")["QueryExecutionIds"])
    capsys.readouterr()
    argv = ["query", "--named", "menu-paths", "--program", "menu-navigation", "--athena"]
    assert main([*argv, "--dt", "2026-12-02", "--state-dir", str(state_dir)]) == 0
    [started] = (
        set(athena.list_query_executions(WorkGroup="interaction-lake")["QueryExecutionIds"])
        - before
    )
    execution = athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]
    assert execution["Query"] == named_queries()["menu-paths"].positional_sql
    assert execution["ExecutionParameters"] == [
        "'menu-navigation'",
        "'2026-12-02'",
        "'2026-12-02'",
    ]


def test_agents_enroll_list_revoke_through_the_cli(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    where = ["--program", "menu-navigation", "--state-dir", str(state_dir)]
    capsys.readouterr()
    assert main(["agents", "enroll", "--agent-id", "LAPTOP-77", *where]) == 0
    enrolled = capsys.readouterr()
    token = enrolled.out.strip()
    assert token.startswith("ilk_")
    assert "shown once" in enrolled.err
    agent = Agent(state.api_url, token, "menu-navigation")
    batch = make_batch(20, seed=77, start_ms=int(time.time() * 1000) - 60_000)
    assert agent.post(batch)[0] == 200

    assert main(["agents", "enroll", "--agent-id", "LAPTOP-77", *where]) == 2
    assert "--replace" in capsys.readouterr().err  # no second token for the same agent id

    assert main(["agents", "list", *where]) == 0
    listing = capsys.readouterr().out
    fingerprint = re.search(r"token fingerprint ([0-9a-f]{12})", enrolled.err).group(1)  # type: ignore[union-attr]
    assert re.search(rf"LAPTOP-77\s+│\s+{fingerprint}\s+│\s+active", listing)
    assert token not in listing

    assert main(["agents", "revoke", "--agent-id", "LAPTOP-77", *where]) == 0
    assert "revoked 1 token" in capsys.readouterr().out
    assert agent.post({**batch, "batch_id": "2f8e6f35-4c4b-4f57-9d5e-5d1f6a4c3b21"})[0] == 401
    assert main(["agents", "list", *where]) == 0
    assert re.search(rf"LAPTOP-77\s+│\s+{fingerprint}\s+│\s+revoked", capsys.readouterr().out)
    assert main(["agents", "revoke", "--agent-id", "LAPTOP-77", *where]) == 2
    agent.close()


def test_a_token_of_a_retired_program_gets_404(stack: tuple[LocalState, Path]) -> None:
    """A program file removed while its agents still hold tokens: the route is unknown."""
    state, _ = stack
    token = enroll_agent(
        local_client(state, "dynamodb"),
        "ilake-local-agents",
        program="retired",
        agent_id="old-agent",
    ).token
    agent = Agent(state.api_url, token, "retired")
    status, answer, _ = agent.post(make_batch(5, start_ms=int(time.time() * 1000) - 60_000))
    agent.close()
    assert (status, answer["error"]) == (404, "unknown_program")


def test_report_is_written_from_the_lake_and_the_metrics(
    stack: tuple[LocalState, Path],
    simulated: dict[str, Summary],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, state_dir = stack
    out = state_dir / "nested" / "report.html"
    assert main(["report", "--out", str(out), "--state-dir", str(state_dir)]) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    for program in PROGRAMS:
        assert program in page
    for reason in simulated["shortcut-learning"].rejected:
        assert reason in page
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_cli_simulate_prints_a_summary_that_matches_the_lake(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, state_dir = stack
    count = "SELECT count(*) AS n FROM interactions WHERE program = 'menu-navigation'"
    before = query_json(state_dir, count, capsys)[0]["n"]
    argv = ["simulate", "--program", "menu-navigation", "--agents", "2", "--minutes", "1"]
    assert main([*argv, "--seed", "9", "--state-dir", str(state_dir)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"menu-navigation: 2 agents, \d+ batches \(\d+ x 200\)", printed)
    assert "events/s" in printed
    assert "not captured by the agents' policy, by reason: type_not_collected" in printed
    assert "redactions on the agents, by detector: " in printed
    accepted = int(re.search(r"accepted ([\d,]+)", printed).group(1).replace(",", ""))  # type: ignore[union-attr]
    after = query_json(state_dir, count, capsys)[0]["n"]
    assert after - before == accepted > 0


def test_simulate_runs_again_against_the_same_stack(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A simulated person keeps their agent id from run to run: each run replaces its token."""
    _, state_dir = stack
    where = ["--program", "shortcut-learning", "--state-dir", str(state_dir)]
    for seed in ("21", "22"):
        argv = ["simulate", *where, "--agents", "1", "--minutes", "0.2", "--seed", seed]
        assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["agents", "list", *where, "--format", "json"]) == 0
    tokens = [r for r in json.loads(capsys.readouterr().out) if r["agent"].endswith("-sim-000")]
    assert len(tokens) >= 2  # this test's two runs, and any run before
    assert [r["status"] for r in tokens].count("active") == 1


def test_local_up_as_a_process_is_quiet_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The terminal keeps the endpoints and where the tokens and logs are, never a token or a
    handler's log line; SIGTERM says so and removes the state file."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_LOG_LEVEL"}  # INFO: a line each
    process = subprocess.Popen(
        [sys.executable, "-m", "ilake.cli", "local", "up", "--port", str(port),
         "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "local.json").exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "local up did not start within 60 s"
            time.sleep(0.2)
        state = LocalState.read(tmp_path)
        assert state.pid == process.pid
        token = state.programs["menu-navigation"]["token"]
        agent = Agent(state.api_url, token, "menu-navigation")
        batch = make_batch(10, seed=5, start_ms=int(time.time() * 1000) - 60_000)
        assert agent.post(batch)[0] == 200
        stranger = Agent(state.api_url, "ilk_" + "x" * 43, "menu-navigation")
        assert stranger.post(batch)[0] == 401
        stranger.close()
        agent.close()
        moto_port = int(state.aws_endpoint_url.rsplit(":", 1)[1])
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"API        http://127.0.0.1:{port}" in stdout
    assert f"AWS (moto) {state.aws_endpoint_url}" in stdout
    assert f"tokens     {tmp_path / 'local.json'}" in stdout
    assert token not in stdout + stderr
    assert "{" not in stdout + stderr  # no JSON log line
    assert re.search(r"stopped after \d+ s \(2 requests: 1 x 200, 1 x 401\); .*local.json removed",
                     stdout.replace("\n", " "))  # fmt: skip
    logged = [json.loads(line) for line in (tmp_path / "local.log").read_text().splitlines()]
    assert {(line["service"], line["message"]) for line in logged} >= {
        ("authorizer", "allowed"),
        ("authorizer", "denied"),
        ("ingest", "batch stored"),
    }
    assert token not in (tmp_path / "local.log").read_text()
    assert (tmp_path / "local.log").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "local.json").exists()
    assert not (tmp_path / "local.lock").exists()
    for closed in (port, moto_port):
        with pytest.raises(OSError):  # noqa: PT011 - nothing listens any more
            urllib.request.urlopen(f"http://127.0.0.1:{closed}/", timeout=2)


@pytest.mark.parametrize(
    "command",
    [
        ["query", "SELECT 1"],
        ["report"],
        ["status"],
        ["audit"],
        ["agents", "list", "-p", "menu-navigation"],
        ["simulate", "-p", "menu-navigation"],
        ["compact"],
    ],
    ids=" ".join,
)
def test_a_state_file_of_a_stack_that_stopped_is_said_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """A state file that names no process (written before the pid was recorded) and endpoints
    where nothing listens: the command says local mode is not running, exit 2, no traceback."""
    dead = f"http://127.0.0.1:{free_port()}"
    programs = {"menu-navigation": {"token": "t", "key_id": "k"}}
    LocalState(dead, dead, "eu-west-1", "b", programs).write(tmp_path)
    saved = dict(os.environ)  # the command points this process's boto3 at the state file's
    try:
        assert main([*command, "--state-dir", str(tmp_path)]) == 2
    finally:
        os.environ.clear()
        os.environ.update(saved)
    err = capsys.readouterr().err
    assert " ".join(err.split()).startswith("error: local mode is not running")
    assert "Traceback" not in err
    assert err.count("error:") == 1
