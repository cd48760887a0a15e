"""Local mode end to end over real HTTP on loopback: moto server, the HTTP front, the handlers."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ilake.local import LocalModeError, LocalStack, LocalState, free_port
from ilake.simulate import make_batch
from lambdas.core.settings import BUNDLED_PROGRAMS
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalState, Path]]:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        yield state, state_dir


def post(
    state: LocalState, program: str, batch: dict[str, Any], token: str | None, path: str = "batches"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{state.api_url}/v1/programs/{program}/{path}",
        data=gzip.compress(msgspec.json.encode(batch)) if path == "batches" else None,
        headers=headers,
        method="POST" if path == "batches" else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def s3(state: LocalState) -> Any:
    return local_client(state, "s3")


def now_batch(n: int = 50, seed: int = 1) -> dict[str, Any]:
    return make_batch(n, seed=seed, start_ms=int(time.time() * 1000) - 60_000)


def test_state_file_lists_endpoints_and_one_token_per_program(
    local: tuple[LocalState, Path],
) -> None:
    state, state_dir = local
    written = json.loads((state_dir / "local.json").read_text())
    assert written["api_url"] == state.api_url
    assert written["api_url"].startswith("http://127.0.0.1:")
    assert set(written["programs"]) == {"menu-navigation", "shortcut-learning"}
    assert (state_dir / "local.json").stat().st_mode & 0o077 == 0  # tokens: owner only


def test_batch_over_http_lands_encrypted_under_the_programs_key(
    local: tuple[LocalState, Path],
) -> None:
    state, _ = local
    program = state.programs["menu-navigation"]
    status, body = post(state, "menu-navigation", now_batch(), program["token"])
    assert status == 200
    assert body["accepted"] > 0
    head = s3(state).head_object(Bucket=state.bucket, Key=body["object"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == program["key_id"]
    assert head["BucketKeyEnabled"] is True
    status, policy = post(state, "menu-navigation", {}, program["token"], path="policy")
    assert (status, policy["program"]) == (200, "menu-navigation")


def test_refusals_over_http(local: tuple[LocalState, Path]) -> None:
    state, _ = local
    menu = state.programs["menu-navigation"]["token"]
    assert post(state, "menu-navigation", now_batch(5), None)[0] == 401
    assert post(state, "menu-navigation", now_batch(5), "ilk_" + "x" * 40)[0] == 401
    assert post(state, "shortcut-learning", now_batch(5), menu)[0] == 403
    assert post(state, "no-such-program", now_batch(5), menu)[0] == 403  # policy: own program only


def test_paused_program_is_423_over_http(local: tuple[LocalState, Path]) -> None:
    state, _ = local
    dynamodb = local_client(state, "dynamodb")
    dynamodb.put_item(
        TableName="ilake-local-program-state",
        Item={"program": {"S": "shortcut-learning"}, "state": {"S": "PAUSED"}},
    )
    token = state.programs["shortcut-learning"]["token"]
    status, body = post(state, "shortcut-learning", now_batch(5, seed=3), token)
    assert (status, body["collect"]) == (423, False)


def test_second_stack_on_the_same_state_dir_and_non_loopback_are_refused(
    local: tuple[LocalState, Path],
    tmp_path: Path,
) -> None:
    _, state_dir = local
    with pytest.raises(LocalModeError, match="another `ilake local up`"):
        LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=free_port()).start()
    with pytest.raises(LocalModeError, match="loopback only"):
        LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=tmp_path, host="0.0.0.0")
    with pytest.raises(LocalModeError, match="does not exist"):
        LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=tmp_path / "missing").start()


def test_stop_leaves_no_server_thread_behind(tmp_path: Path) -> None:
    """Nor a state file: `ilake demo` runs its stack in process, and a local.json left behind
    would name a stack that is gone."""
    saved = dict(os.environ)
    before = {t.name for t in threading.enumerate()}
    port = free_port()
    try:
        with LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=tmp_path, port=port):
            assert "ilake-api" in {t.name for t in threading.enumerate()}
            assert (tmp_path / "local.json").exists()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    time.sleep(0.2)
    assert "ilake-api" not in {t.name for t in threading.enumerate()} - before
    assert not (tmp_path / "local.lock").exists()
    assert not (tmp_path / "local.json").exists()
    with pytest.raises(OSError):  # noqa: PT011 - the port is closed again
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
