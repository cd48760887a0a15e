"""`ilake compact` and `ilake retention check` against local mode, after agents posted over HTTP."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from ilake.cli import main
from ilake.local import LocalState
from ilake.simulate import make_batch
from ilake_agent.client import HttpTransport
from lambdas.core.compaction import PartName
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
MENU = "menu-navigation"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[LocalState, Path]]:
    with running_local_stack(tmp_path) as state:
        transport = HttpTransport(state.api_url)
        headers = {
            "Authorization": f"Bearer {state.programs[MENU]['token']}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        for seed in range(5):
            batch = make_batch(60, seed=seed, start_ms=int(time.time() * 1000) - 60_000,
                               subject=f"user{seed % 3}")  # fmt: skip
            body = gzip.compress(msgspec.json.encode(batch))
            status, _, _ = transport.post(f"/v1/programs/{MENU}/batches", body, headers)
            assert status == 200
        transport.close()
        yield state, tmp_path


def cli(state_dir: Path, *argv: str) -> int:
    return main([*argv, "--state-dir", str(state_dir)])


def keys(state: LocalState) -> list[str]:
    s3 = local_client(state, "s3")
    listing = s3.list_objects_v2(Bucket=state.bucket, Prefix=f"interactions/program={MENU}/dt=")
    return [entry["Key"] for entry in listing.get("Contents", [])]


def test_compact_then_retention_check(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    count = (
        "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM interactions "
        f"WHERE program = '{MENU}'"
    )
    assert cli(state_dir, "query", count, "-f", "json") == 0
    before = json.loads(capsys.readouterr().out)[0]
    assert len(keys(state)) == 5

    assert cli(state_dir, "compact", "-p", MENU, "-f", "json") == 0  # the hour is still open
    assert json.loads(capsys.readouterr().out) == []
    assert len(keys(state)) == 5

    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert cli(state_dir, "compact", "-p", MENU, "--now", later, "-f", "json") == 0
    counted, row = json.loads(capsys.readouterr().out)
    assert (counted["step"], counted["files in"]) == ("count", 5)  # counted before compacted
    assert counted["outcome"].startswith("counted: 0 texts became common")  # 3 people, not 10
    assert (row["step"], row["outcome"], row["files in"], row["files out"]) == (
        "compact",
        "compacted",
        5,
        1,
    )
    [part] = keys(state)
    assert PartName.parse(part.rsplit("/", 1)[1]) is not None
    assert cli(state_dir, "query", count, "-f", "json") == 0
    assert json.loads(capsys.readouterr().out)[0] == before  # same rows, none twice

    assert cli(state_dir, "retention", "check", "-f", "json") == 0
    assert json.loads(capsys.readouterr().out) == []
    retention = 180  # programs/menu-navigation.toml
    late = (datetime.now(UTC) + timedelta(days=retention + 3)).date().isoformat()
    assert cli(state_dir, "retention", "check", "--today", late, "-f", "json") == 0
    [past] = json.loads(capsys.readouterr().out)
    assert (past["program"], past["object"]) == (MENU, part)
    assert past["days past retention"] in (2, 3)  # 3 unless the day turned since the post


def test_compact_refuses_bad_input(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, state_dir = stack
    assert cli(state_dir, "compact", "-p", "no-such-program") == 2
    assert cli(state_dir, "compact", "--now", "2026-11-20T12:00:00") == 2  # no zone
    assert cli(state_dir, "retention", "check", "--today", "tomorrow") == 2
    assert "tomorrow" not in capsys.readouterr().err
