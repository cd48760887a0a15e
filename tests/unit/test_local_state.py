"""Local mode's state file, lock, request counts and log routing, without a running stack.

Sockets are off here: a state file naming a process that is gone must be recognised before any
connection is tried.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilake.cli import main
from ilake.local import (
    LocalModeError,
    LocalState,
    RequestTally,
    handler_logs_to,
    requests_line,
    take_lock,
)
from ilake.ui import ctrl_c_sets
from lambdas.compaction import handler as compaction_handler
from lambdas.ingest import handler as ingest_handler

PROGRAMS = {"menu-navigation": {"token": "ilk_" + "s" * 43, "key_id": "k"}}
LOCAL_COMMANDS = [
    ["query", "SELECT 1"],
    ["report"],
    ["status"],
    ["audit"],
    ["agents", "list", "-p", "menu-navigation"],
    ["simulate", "-p", "menu-navigation"],
    ["compact"],
]


@pytest.fixture(scope="module")
def gone_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_state(pid: int | None) -> LocalState:
    url = "http://127.0.0.1:9"  # never tried: the process check comes first
    return LocalState(url, url, "eu-west-1", "b", PROGRAMS, pid=pid)


@pytest.mark.parametrize("command", LOCAL_COMMANDS, ids=" ".join)
def test_a_state_file_left_by_a_stopped_stack_is_said_in_one_line(
    command: list[str], gone_pid: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a killed `ilake local up` (or an older one) leaves behind: every command that reads
    it says that local mode is not running and how to start it, exit 2, no traceback."""
    stale_state(gone_pid).write(tmp_path)
    saved = dict(os.environ)
    try:
        assert main([*command, "--state-dir", str(tmp_path)]) == 2
    finally:
        os.environ.clear()
        os.environ.update(saved)
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # the terminal may wrap a long path
    assert err.startswith("error: local mode is not running")
    assert f"{tmp_path / 'local.json'} is left from a stack that stopped" in err
    assert f"`ilake local up --state-dir {tmp_path}`" in err
    assert err.count("error:") == 1
    assert "Traceback" not in captured.err
    assert PROGRAMS["menu-navigation"]["token"] not in captured.err + captured.out
    assert captured.out == ""


def test_a_state_file_names_the_serving_process(tmp_path: Path, gone_pid: int) -> None:
    state = stale_state(os.getpid())
    state.write(tmp_path)
    assert json.loads((tmp_path / "local.json").read_text())["pid"] == os.getpid()
    assert LocalState.read(tmp_path) == state
    assert not stale_state(gone_pid).answers()


def test_a_state_file_written_before_the_pid_was_recorded_still_reads(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    old = {"api_url": url, "aws_endpoint_url": url, "region": "r", "bucket": "b", "programs": {}}
    (tmp_path / "local.json").write_text(json.dumps(old))
    assert LocalState.read(tmp_path).pid is None


def read_or_reason(data: bytes) -> LocalState | str:
    import tempfile

    with tempfile.TemporaryDirectory() as state_dir:
        (Path(state_dir) / "local.json").write_bytes(data)
        try:
            return LocalState.read(Path(state_dir))
        except LocalModeError as exc:
            return str(exc).replace(state_dir, "<dir>")


FIELDS = ["api_url", "aws_endpoint_url", "region", "bucket", "programs", "workflows", "pid"]
VALUES = st.none() | st.integers() | st.text(max_size=20) | st.dictionaries(st.text(), st.text())


@given(st.binary(max_size=300) | st.dictionaries(st.sampled_from(FIELDS), VALUES).map(
    lambda fields: json.dumps(fields).encode()
))  # fmt: skip
def test_any_state_file_reads_as_a_typed_state_or_one_reason_that_quotes_nothing(
    data: bytes,
) -> None:
    """Whatever the file holds, reading it gives a state of the declared types or one fixed
    reason naming the file; nothing of the content is repeated."""
    outcome = read_or_reason(data)
    if isinstance(outcome, str):
        assert outcome == "<dir>/local.json is not a local mode state file"
    else:
        assert all(isinstance(v, str) for v in (outcome.api_url, outcome.aws_endpoint_url))
        assert outcome.pid is None or isinstance(outcome.pid, int)
        assert all(isinstance(v, dict) for v in outcome.programs.values())


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path: Path, gone_pid: int) -> None:
    """A stack killed before it could clean up leaves its lock: the next `local up` starts."""
    lock = tmp_path / "local.lock"
    lock.write_text(f"{gone_pid}\n")
    take_lock(lock)
    assert lock.read_text() == f"{os.getpid()}\n"
    assert lock.stat().st_mode & 0o077 == 0


def test_a_lock_held_by_a_live_process_or_by_an_unknown_one_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "local.lock"
    lock.write_text(f"{os.getpid()}\n")
    with pytest.raises(LocalModeError, match=rf"another `ilake local up` \(pid {os.getpid()}\)"):
        take_lock(lock)
    lock.write_text("")  # a lock from a version that did not record its pid
    with pytest.raises(LocalModeError, match="delete the file if so"):
        take_lock(lock)
    assert lock.read_text() == ""


def test_requests_are_counted_by_status_since_the_last_line_and_in_all() -> None:
    tally = RequestTally()
    for status in (200, 200, 401, 200):
        tally.add(status)
    assert requests_line(tally.take()) == "4 requests: 3 x 200, 1 x 401"
    assert requests_line(tally.take()) is None  # no line for a quiet minute
    tally.add(423)
    assert requests_line(tally.take()) == "1 request: 1 x 423"
    assert tally.total() == Counter({200: 3, 401: 1, 423: 1})


@given(st.dictionaries(st.integers(100, 599), st.integers(1, 10**6), min_size=1))
def test_a_requests_line_adds_up_to_its_total(by_status: dict[int, int]) -> None:
    line = requests_line(Counter(by_status))
    assert line is not None
    total, _, statuses = line.partition(" request")
    counts = [
        int(part.split(" x ")[0].replace(",", "")) for part in statuses.split(": ")[1].split(", ")
    ]
    assert int(total.replace(",", "")) == sum(counts) == sum(by_status.values())


def test_the_handlers_log_lines_go_to_the_log_file_not_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "local.log"
    log.write_text("from an earlier run\n")
    log.chmod(0o644)
    handlers = [m.logger.registered_handler for m in (ingest_handler, compaction_handler)]
    before = [h.stream for h in handlers]  # type: ignore[attr-defined]
    with handler_logs_to(log, fresh=True):
        ingest_handler.logger.warning("batch refused")
        compaction_handler.logger.warning("partition")
    assert [h.stream for h in handlers] == before  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["service"], line["message"]) for line in lines] == [
        ("ingest", "batch refused"),
        ("compaction", "partition"),
    ]
    assert log.stat().st_mode & 0o777 == 0o600
    with handler_logs_to(log):  # `ilake compact` appends to the running stack's log
        compaction_handler.logger.warning("count")
    assert len(log.read_text().splitlines()) == 3
    assert "batch refused" not in capsys.readouterr().out


def test_a_log_path_that_is_a_symlink_is_refused_with_a_reason(tmp_path: Path) -> None:
    """The log is opened without following links: a planted link cannot send it elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "local.log").symlink_to(elsewhere)
    with (
        pytest.raises(LocalModeError, match=r"cannot write the handlers' log .*local\.log"),
        handler_logs_to(tmp_path / "local.log"),
    ):
        pass
    assert not elsewhere.exists()


def test_the_first_ctrl_c_sets_the_event_and_a_second_one_interrupts() -> None:
    before = signal.getsignal(signal.SIGINT)
    stop = threading.Event()
    with ctrl_c_sets(stop):
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_local_up_that_cannot_start_leaves_the_signal_handlers_as_they_were(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    assert main(["local", "up", "--state-dir", str(tmp_path / "missing")]) == 2
    assert {sig: signal.getsignal(sig) for sig in before} == before
    assert "does not exist" in capsys.readouterr().err
