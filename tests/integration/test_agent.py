"""The agent SDK against local mode over real HTTP: exactly-once delivery through outages and a
kill -9, pause honoured (capture stops, spool wiped), and nothing readable in the spool."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ilake.local import LocalState, free_port
from ilake.simulate import Session
from ilake_agent.client import Client, Limits
from ilake_agent.policy import ClientPolicy
from lambdas.core.programs import load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
PROGRAM = "menu-navigation"  # no pointer sampling: every captured event is stored
PAUSED = "shortcut-learning"
FAST = Limits(max_events=200, max_age_s=0.05, backoff_base_s=0.05, backoff_max_s=0.5)


def events(n: int, seed: int = 0, subject: str = "jdoe") -> list[dict[str, Any]]:
    session = Session(
        seed, subject=subject, device="LAPTOP-1", start_ms=int(time.time() * 1000) - 3_600_000
    )
    out: list[dict[str, Any]] = []
    end = session.ts
    while len(out) < n:
        end += 60_000
        out += session.until(end)
    return out[:n]


def policy() -> ClientPolicy:
    return ClientPolicy.from_policy(load_programs(BUNDLED_PROGRAMS)[PROGRAM].public_policy())


def stored_event_ids(state: LocalState) -> Counter[str]:
    s3 = local_client(state, "s3")
    ids: Counter[str] = Counter()
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=state.bucket, Prefix=f"interactions/program={PROGRAM}/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=state.bucket, Key=item["Key"])["Body"].read()
            ids.update(
                pq.read_table(io.BytesIO(body), columns=["event_id"])["event_id"].to_pylist()
            )
    return ids


def test_an_outage_then_the_server_comes_up_every_event_once(tmp_path: Path) -> None:
    port = free_port()
    client = Client(
        f"http://127.0.0.1:{port}", "ilk_" + "x" * 43, PROGRAM,
        spool_dir=tmp_path / "spool", policy=policy(), limits=FAST,
    )  # fmt: skip
    recorded = [e for e in events(1_500) if client.record(e)]
    assert not client.flush(timeout_s=0.5)  # nobody listens: everything stays spooled
    assert client.spool.stats().records == len(recorded)
    client.close(timeout_s=0.1)

    state_dir = tmp_path / "state"
    state_dir.mkdir()
    from ilake.local import LocalStack

    saved = dict(os.environ)
    stack = LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=port)
    try:
        state = stack.start()
        token = state.programs[PROGRAM]["token"]
        again = Client(state.api_url, token, PROGRAM, spool_dir=tmp_path / "spool", limits=FAST)
        assert again.flush(timeout_s=60)
        again.close()
        stored = stored_event_ids(state)
        assert max(stored.values()) == 1  # never twice
        assert sum(stored.values()) == again.counters.events_delivered
        delivered = {e["event_id"] for e in recorded}
        assert set(stored) <= delivered
        assert set(stored) == delivered  # menu-navigation keeps every captured event
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        yield state, state_dir


def test_kill_9_during_a_flush_then_restart_delivers_exactly_once(
    stack: tuple[LocalState, Path], tmp_path: Path
) -> None:
    state, _ = stack
    token_file = tmp_path / "token"
    token_file.write_text(state.programs[PROGRAM]["token"])
    token_file.chmod(0o600)
    spool = tmp_path / "spool"
    # small batches, so delivery lasts long enough (the SDK got fast) for the kill to land mid-way
    lines = "".join(json.dumps(e) + "\n" for e in events(6_000, seed=7, subject="kill9"))
    before = sum(stored_event_ids(state).values())
    agent = subprocess.Popen(
        [sys.executable, "-m", "ilake.cli", "agent", "run", "--program", PROGRAM,
         "--token-file", str(token_file), "--api-url", state.api_url, "--spool-dir", str(spool),
         "--source", "stdin-jsonl", "--batch-events", "60"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert agent.stdin is not None
    assert agent.stderr is not None
    agent.stdin.write(lines.encode())
    agent.stdin.close()
    said: list[bytes] = []
    reader = threading.Thread(target=lambda: said.extend(agent.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 60
    # kill it while it delivers: everything recorded, some batches stored, some not
    while not any(b"delivering" in line for line in said) or (
        sum(stored_event_ids(state).values()) == before
    ):
        assert time.monotonic() < deadline, said
        assert agent.poll() is None, said
        time.sleep(0.02)
    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)

    restarted = Client(
        state.api_url, state.programs[PROGRAM]["token"], PROGRAM, spool_dir=spool, limits=FAST
    )
    assert restarted.flush(timeout_s=120)
    restarted.close()
    stored = stored_event_ids(state)
    assert max(stored.values()) == 1  # nothing twice, though batches were cut off by the kill
    generated = {e["event_id"] for e in events(6_000, seed=7, subject="kill9")}
    captured = {e["event_id"] for e in events(6_000, seed=7, subject="kill9") if policy().apply(e)}
    assert set(stored) & generated == captured  # nothing lost either
    assert restarted.spool.stats().records == 0


def test_a_pause_mid_stream_stops_capture_and_wipes_the_spool(
    stack: tuple[LocalState, Path], tmp_path: Path
) -> None:
    state, _ = stack
    program = PAUSED
    token = state.programs[program]["token"]
    client = Client(state.api_url, token, program, spool_dir=tmp_path / "spool", limits=FAST)
    stream = events(3_000, seed=3)
    for event in stream[:500]:
        client.record(event)
    assert client.flush(timeout_s=60)
    dynamodb = local_client(state, "dynamodb")
    dynamodb.put_item(
        TableName="ilake-local-program-state",
        Item={"program": {"S": program}, "state": {"S": "PAUSED"}},
    )
    for event in stream[500:]:
        client.record(event)
    assert client.flush(timeout_s=60)
    assert client.paused
    assert not client.record(stream[0])  # capture has stopped
    assert client.spool.stats().records == 0
    leftovers = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    assert all(p.stat().st_size == 0 for p in leftovers), leftovers
    client.close()


# --- `ilake agent run`: what it tells the operator, and how it fails -----------------------------


def agent_run(
    tmp_path: Path, api_url: str, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    token_file = tmp_path / "token"
    if not token_file.exists():
        token_file.write_text("ilk_" + "t" * 43)
        token_file.chmod(0o600)
    return subprocess.run(
        [sys.executable, "-m", "ilake.cli", "agent", "run", "--program", PROGRAM,
         "--token-file", str(token_file), "--api-url", api_url,
         "--spool-dir", str(tmp_path / "spool"), "--source", "stdin-jsonl", *args],
        input=stdin.decode(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_agent_run_counts_each_event_under_its_reason_and_never_echoes_it(
    stack: tuple[LocalState, Path], tmp_path: Path
) -> None:
    state, _ = stack
    token_file = tmp_path / "token"
    token_file.write_text(state.programs[PROGRAM]["token"])
    token_file.chmod(0o600)
    good = events(40, seed=11, subject="reasons")
    clicks = [e for e in good if e["type"] == "pointer.click"]
    assert clicks
    secret = "jane.roe@example.com"
    lines = [json.dumps(e) for e in good]
    lines += [
        json.dumps({**clicks[0], "event_id": str(uuid.uuid4()), "display": None}),
        json.dumps({**clicks[0], "event_id": str(uuid.uuid4()), "x": secret}),
        json.dumps({**clicks[0], "event_id": str(uuid.uuid4()), "type": secret}),
        json.dumps({**clicks[0], "event_id": str(uuid.uuid4()), "app": {"name": "1Password"}}),
        json.dumps({**clicks[0], "event_id": str(uuid.uuid4()), "type": "key.press"}),
        json.dumps(clicks[0]),  # the same event twice in one batch: only the server can tell
        f"not json {secret}",
        json.dumps([secret]),
        '{"x": NaN}',
        "",
    ]
    done = agent_run(tmp_path, state.api_url, stdin="\n".join(lines).encode())
    assert done.returncode == 0, done.stderr
    summary = done.stdout
    policy_line = next(line for line in summary.splitlines() if "not captured (policy)" in line)
    assert "denied_app 1" in policy_line
    assert "type_not_collected " in policy_line
    assert "not captured (invalid): missing_display 1, unknown_type 1, wrong_type 1\n" in summary
    assert "unreadable lines (not a JSON object): 3\n" in summary
    assert "rejected by the server: duplicate_event_id 1\n" in summary
    assert secret not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_agent_run_retries_the_first_policy_request(tmp_path: Path) -> None:
    with FakeApi(policy_answers=[503, 429, 503]) as api:
        done = agent_run(tmp_path, api.url, "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert api.policy_requests == 4
    assert "recorded 0," in done.stdout


def test_agent_run_against_an_api_that_keeps_refusing_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    with FakeApi(policy_answers=[503] * 10_000) as api:
        done = agent_run(tmp_path, api.url, "--timeout", "0.5")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no policy within 0.5 s: the API answered 503"
    assert api.policy_requests > 1  # retried, not given up at once


def test_agent_run_against_no_api_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = agent_run(tmp_path, f"http://127.0.0.1:{free_port()}", "--timeout", "0.3")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: no policy within 0.3 s: the API is unreachable (connection refused)"
    )


def test_ctrl_c_stops_capture_prints_the_summary_and_keeps_the_spool(tmp_path: Path) -> None:
    from ilake_agent.keys import default_key_store
    from ilake_agent.spool import Spool

    token_file = tmp_path / "token"
    token_file.write_text("ilk_" + "t" * 43)
    token_file.chmod(0o600)
    spool_dir = tmp_path / "spool"
    [event] = [e for e in events(40, seed=5) if e["type"] == "pointer.click"][:1]
    with FakeApi(policy_answers=[], batch_status=503) as api:
        agent = subprocess.Popen(
            [sys.executable, "-m", "ilake.cli", "agent", "run", "--program", PROGRAM,
             "--token-file", str(token_file), "--api-url", api.url, "--spool-dir", str(spool_dir),
             "--source", "stdin-jsonl", "--batch-events", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert agent.stdin is not None
        agent.stdin.write(json.dumps(event) + "\n")
        agent.stdin.flush()
        # recorded once its batch reaches the API (refused there: it stays spooled); the agent
        # then waits for the next line
        assert api.first_batch.wait(timeout=60)
        agent.send_signal(signal.SIGINT)
        out, err = agent.communicate(timeout=60)
    assert agent.returncode == 130, err
    assert "recorded 1, delivered 0" in out
    assert "interrupted: capture stopped" in err
    assert "Traceback" not in err
    key = default_key_store(spool_dir).load_or_create()
    with Spool(spool_dir, key=key) as spool:
        assert spool.stats().records == 1


class FakeApi:
    """A scripted API on loopback: the policy request answers `policy_answers` in turn, then
    menu-navigation's policy; every batch is answered `batch_status`."""

    def __init__(self, *, policy_answers: list[int], batch_status: int = 200) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        api = self
        self.policy_answers = list(policy_answers)
        self.policy_requests = 0
        self.first_batch = threading.Event()
        policy = json.dumps(load_programs(BUNDLED_PROGRAMS)[PROGRAM].public_policy()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.policy_requests += 1
                if api.policy_answers:
                    self.answer(api.policy_answers.pop(0), b'{"error": "busy"}')
                else:
                    self.answer(200, policy)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.first_batch.set()
                self.answer(batch_status, b'{"error": "busy"}')

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
