"""The agent's encrypted spool: order, exactly-once across restarts and kill -9, torn tails,
bounds by size and age, wipe, file modes, keys, tampering, and no plaintext on disk. The tests
that touch how frames reach the disk run in both modes: mapped (a reserved segment, written
through memory) and written (one write per frame)."""

from __future__ import annotations

import collections
import errno
import itertools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ilake_agent import keys
from ilake_agent import spool as spool_module
from ilake_agent.keys import KeyFile, KeyStoreError, OsKeyring, default_key_store
from ilake_agent.spool import (
    CAN_MAP,
    FRAME_OVERHEAD,
    HEADER_LEN,
    Cursor,
    Spool,
    SpoolClosedError,
    SpoolCorruptError,
    SpoolError,
    SpoolKeyError,
    wipe_directory,
)

REPO = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
ALL = 2**62


def rec(i: int, size: int = 0) -> bytes:
    return b"r%06d" % i + b"." * size


def drain(spool: Spool, batch: int = 1000) -> list[bytes]:
    """Peek and ack everything, batch by batch."""
    out: list[bytes] = []
    while True:
        cursor, records = spool.peek(batch, ALL)
        if not records:
            return out
        out += records
        spool.ack(cursor)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


MODES = [
    pytest.param(True, id="mapped", marks=pytest.mark.skipif(not CAN_MAP, reason="no mmap")),
    pytest.param(False, id="written"),
]


@pytest.fixture(params=MODES)
def mapped(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Runs a test in both modes (every Spool the test opens, and the children it starts)."""
    monkeypatch.setattr(spool_module, "CAN_MAP", request.param)
    monkeypatch.setenv("ILAKE_TEST_SPOOL_MAPPED", "1" if request.param else "0")
    return bool(request.param)


@pytest.fixture
def umask0() -> Iterator[None]:
    """Modes must come from the code, not from a friendly umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- order, acknowledgement, restart ----------------------------------------------------------


def test_peek_returns_the_oldest_in_order_and_keeps_them_until_ack(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", key=KEY, segment_bytes=4096) as spool:
        for i in range(100):
            spool.append(rec(i))
        cursor, first = spool.peek(10, ALL)
        assert first == [rec(i) for i in range(10)]
        assert spool.peek(10, ALL)[1] == first  # peek does not remove
        spool.ack(cursor)
        spool.ack(cursor)  # acknowledging twice is harmless
        assert spool.peek(5, ALL)[1] == [rec(i) for i in range(10, 15)]
        assert spool.peek(100, 3 * len(rec(0)))[1] == [rec(i) for i in range(10, 13)]  # by bytes
        assert spool.stats().records == 90
        assert drain(spool) == [rec(i) for i in range(10, 100)]
        assert spool.stats().records == 0
        assert len(segments(tmp_path / "s")) == 1  # acknowledged sealed segments are deleted


def test_a_record_larger_than_the_byte_budget_is_returned_alone(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", key=KEY, segment_bytes=4096) as spool:
        spool.append(b"x" * 2000)
        spool.append(b"y")
        assert spool.peek(10, 100)[1] == [b"x" * 2000]
        with pytest.raises(ValueError, match="at most"):
            spool.append(b"z" * spool.max_record + b"z")


def test_acknowledged_records_never_come_back_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", key=KEY, segment_bytes=4096)
    for i in range(300):
        spool.append(rec(i, 20))
    spool.ack(spool.peek(120, ALL)[0])
    spool.close()
    with Spool(tmp_path / "s", key=KEY, segment_bytes=4096) as again:
        assert again.stats().records == 180
        assert drain(again) == [rec(i, 20) for i in range(120, 300)]
    with Spool(tmp_path / "s", key=KEY, segment_bytes=4096) as third:
        assert third.peek(10, ALL)[1] == []
    assert oct(stat.S_IMODE((tmp_path / "s" / "cursor").stat().st_mode)) == oct(0o600)


class SpoolMachine(RuleBasedStateMachine):
    """Any interleaving of appends, peeks, acks and restarts against a plain queue."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp())
        self.spool = self.open()
        self.model: collections.deque[bytes] = collections.deque()
        self.counter = itertools.count()
        self.acked: list[Cursor] = []

    def open(self) -> Spool:
        return Spool(self.root / "s", key=KEY, segment_bytes=2048)

    @rule(n=st.integers(1, 30), size=st.integers(0, 400))
    def append(self, n: int, size: int) -> None:
        for _ in range(n):
            record = rec(next(self.counter), size)
            self.spool.append(record)
            self.model.append(record)

    @rule(k=st.integers(1, 50), budget=st.sampled_from([1, 700, ALL]), ack=st.booleans())
    def peek(self, k: int, budget: int, ack: bool) -> None:
        cursor, records = self.spool.peek(k, budget)
        assert records == list(itertools.islice(self.model, len(records)))
        assert len(records) <= k
        if self.model:
            assert records
        if budget == ALL:
            assert len(records) == min(k, len(self.model))
        if ack:
            self.spool.ack(cursor)
            self.acked.append(cursor)
            for _ in records:
                self.model.popleft()

    @rule()
    def ack_an_old_cursor_again(self) -> None:
        if self.acked:
            self.spool.ack(self.acked[0])  # behind the read position: changes nothing

    @rule()
    def restart(self) -> None:
        self.spool.close()
        self.spool = self.open()

    @invariant()
    def counts_match(self) -> None:
        assert self.spool.stats().records == len(self.model)

    def teardown(self) -> None:
        self.spool.close()
        shutil.rmtree(self.root)


TestSpoolMachine = SpoolMachine.TestCase
TestSpoolMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


CHILD = """
import os, signal, sys
from pathlib import Path
from ilake_agent import spool as spool_module
from ilake_agent.spool import Spool
spool_module.CAN_MAP = spool_module.CAN_MAP and os.environ.get("ILAKE_TEST_SPOOL_MAPPED") != "0"
spool = Spool(Path(sys.argv[1]), key=bytes.fromhex(sys.argv[2]), segment_bytes=4096)
for i in range(int(sys.argv[3])):
    spool.append(sys.argv[5].encode() + b"%06d" % i)
cursor, records = spool.peek(int(sys.argv[4]), 2**62)
if records:
    spool.ack(cursor)
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill9_child(directory: Path, appends: int, acks: int, prefix: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), KEY.hex(), str(appends), str(acks), prefix],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr.decode()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_kill_9_loses_nothing_returned_by_append_and_replays_nothing_acked(
    tmp_path: Path, mapped: bool
) -> None:
    directory = tmp_path / "s"
    kill9_child(directory, appends=500, acks=120, prefix="a")
    with Spool(directory, key=KEY, segment_bytes=4096) as spool:
        assert spool.peek(ALL, ALL)[1] == [b"a%06d" % i for i in range(120, 500)]
    kill9_child(directory, appends=50, acks=0, prefix="b")
    with Spool(directory, key=KEY, segment_bytes=4096) as spool:
        expected = [b"a%06d" % i for i in range(120, 500)] + [b"b%06d" % i for i in range(50)]
        assert drain(spool) == expected


# -- torn tails, tampering, keys ----------------------------------------------------------------


FRAME = FRAME_OVERHEAD + len(rec(0, 50))


@pytest.mark.parametrize(
    "cut",
    [1, 17, FRAME - 4, FRAME - 2, FRAME - 1],
    ids=["last-byte", "mid-body", "only-length-left", "half-length", "one-byte-left"],
)
def test_a_torn_tail_is_ignored_and_cut_off(tmp_path: Path, cut: int, mapped: bool) -> None:
    directory = tmp_path / "s"
    with Spool(directory, key=KEY) as spool:
        for i in range(10):
            spool.append(rec(i, 50))
    [segment] = segments(directory)
    size = segment.stat().st_size
    assert size == HEADER_LEN + 10 * FRAME
    os.truncate(segment, size - cut)  # what a crash in the middle of a write leaves
    with Spool(directory, key=KEY) as spool:
        assert spool.stats().records == 9
        assert segment.stat().st_size == HEADER_LEN + 9 * FRAME  # the torn bytes are gone
        spool.append(rec(99))
        assert drain(spool) == [rec(i, 50) for i in range(9)] + [rec(99)]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_after_a_kill_the_unused_reservation_is_cut_off_and_appends_go_on(
    tmp_path: Path, mapped: bool
) -> None:
    directory = tmp_path / "s"
    kill9_child(directory, appends=5, acks=0, prefix="a")
    [segment] = segments(directory)
    frames_end = HEADER_LEN + 5 * (FRAME_OVERHEAD + len(b"a000000"))
    assert segment.stat().st_size == (4096 if mapped else frames_end)  # reserved whole
    with Spool(directory, key=KEY, segment_bytes=4096) as spool:
        assert segment.stat().st_size == frames_end
        spool.append(b"after")
        assert drain(spool) == [b"a%06d" % i for i in range(5)] + [b"after"]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_kill_while_a_commit_word_is_written_leaves_that_record_out_never_a_bad_frame(
    tmp_path: Path, mapped: bool
) -> None:
    """A frame exists once its 8-byte commit word (length, NOT length) is written, last. A kill
    part-way leaves each of its bytes final or still zero (or, written, the file cut short):
    every such state must read as "not written", never as a damaged frame or a wrong one."""
    origin = tmp_path / "origin"
    kill9_child(origin, appends=3, acks=0, prefix="c")
    [segment] = segments(origin)
    last = HEADER_LEN + 2 * (FRAME_OVERHEAD + len(b"c000000"))
    data = segment.read_bytes()
    word = data[last : last + 8]
    for mask in range(256):
        partial = bytes(b if mask >> i & 1 else 0 for i, b in enumerate(word))
        directory = tmp_path / f"state-{mask}"
        directory.mkdir()
        copy = directory / segment.name
        copy.write_bytes(data[:last] + partial + data[last + 8 :])
        copy.chmod(0o600)
        with Spool(directory, key=KEY, segment_bytes=4096) as spool:
            records = drain(spool)  # raises SpoolCorruptError on a damaged frame
        expected = 3 if partial == word else 2
        assert records == [b"c%06d" % i for i in range(expected)], mask


@pytest.mark.skipif(not CAN_MAP, reason="no posix_fallocate")
def test_a_full_disk_fails_when_a_segment_is_reserved_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserve = os.posix_fallocate

    def disk_full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    directory = tmp_path / "s"
    with Spool(directory, key=KEY, segment_bytes=4096) as spool:
        monkeypatch.setattr(os, "posix_fallocate", disk_full)
        with pytest.raises(OSError, match="No space"):
            spool.append(b"lost")
        assert sorted(p.name for p in directory.iterdir()) == []  # no segment, no temp file
        monkeypatch.setattr(os, "posix_fallocate", reserve)
        spool.append(b"kept")
        assert drain(spool) == [b"kept"]


@pytest.mark.skipif(not CAN_MAP, reason="no posix_fallocate")
def test_a_file_system_that_cannot_reserve_gets_its_frames_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    directory = tmp_path / "s"
    with Spool(directory, key=KEY, segment_bytes=4096) as spool:
        for i in range(100):  # several segments
            spool.append(rec(i, 50))
        for segment in segments(directory):  # none reserved, none longer than its frames
            assert (segment.stat().st_size - HEADER_LEN) % (FRAME_OVERHEAD + 57) == 0
        assert drain(spool) == [rec(i, 50) for i in range(100)]


def test_a_tampered_record_is_detected_after_the_good_ones(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    with Spool(directory, key=KEY) as spool:
        for i in range(5):
            spool.append(rec(i, 30))
    [segment] = segments(directory)
    data = bytearray(segment.read_bytes())
    frame = FRAME_OVERHEAD + len(rec(0, 30))
    data[HEADER_LEN + 2 * frame + 20] ^= 0x01  # a bit in the third record's ciphertext
    segment.write_bytes(bytes(data))
    with Spool(directory, key=KEY) as spool:
        spool.append(rec(5))  # a new segment: this process never appends to an old one
        cursor, good = spool.peek(10, ALL)
        assert good == [rec(0, 30), rec(1, 30)]  # what precedes the damage is delivered
        spool.ack(cursor)
        with pytest.raises(SpoolCorruptError, match="failed authentication") as caught:
            spool.peek(10, ALL)
        assert "r00000" not in str(caught.value)
        spool.ack(caught.value.skip)  # give up the rest of the damaged segment
        assert drain(spool) == [rec(5)]


def test_a_damaged_length_in_a_sealed_segment_is_reported_not_taken_for_a_torn_tail(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "s"
    frame = FRAME_OVERHEAD + len(rec(0, 100))
    with Spool(directory, key=KEY, segment_bytes=2048) as spool:
        for i in range(40):  # 13 per segment: the first two are sealed by their writer
            spool.append(rec(i, 100))
    first = segments(directory)[0]
    size = first.stat().st_size
    data = bytearray(first.read_bytes())
    data[HEADER_LEN + 5 * frame : HEADER_LEN + 5 * frame + 4] = b"\xff\xff\x00\x00"
    first.write_bytes(bytes(data))
    with Spool(directory, key=KEY, segment_bytes=2048) as spool:
        assert first.stat().st_size == size  # nothing cut off: the evidence stays
        cursor, good = spool.peek(100, ALL)
        assert good == [rec(i, 100) for i in range(5)]
        spool.ack(cursor)
        with pytest.raises(SpoolCorruptError, match="damaged frame") as caught:
            spool.peek(100, ALL)
        spool.ack(caught.value.skip)
        assert drain(spool) == [rec(i, 100) for i in range(13, 40)]
        assert not first.exists()


def test_a_wrong_key_or_a_tampered_header_is_refused_at_open(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    with Spool(directory, key=KEY) as spool:
        spool.append(b"hello")
    with pytest.raises(SpoolKeyError, match="key does not match"):
        Spool(directory, key=bytes(32))
    [segment] = segments(directory)
    data = bytearray(segment.read_bytes())
    data[20] ^= 0x01  # the header's created-at
    segment.write_bytes(bytes(data))
    with pytest.raises(SpoolKeyError):
        Spool(directory, key=KEY)
    (directory / "inflight.json").write_text("{}")
    wipe_directory(directory)  # the way out when the key is lost: no key needed
    assert [p.name for p in directory.iterdir()] == ["inflight.json"]
    with Spool(directory, key=bytes(32)) as fresh:
        assert fresh.stats().records == 0
        with pytest.raises(SpoolError, match="is open"):
            wipe_directory(directory)
    with pytest.raises(ValueError, match="32 bytes"):
        Spool(tmp_path / "other", key=b"short")


def test_one_process_at_a_time_and_a_closed_spool_refuses_work(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", key=KEY)
    with pytest.raises(SpoolError, match="already open"):
        Spool(tmp_path / "s", key=KEY)
    spool.close()
    spool.close()
    with pytest.raises(SpoolClosedError):
        spool.append(b"late")
    with pytest.raises(SpoolClosedError):
        spool.peek(1, ALL)
    Spool(tmp_path / "s", key=KEY).close()  # the lock went with close()


# -- privacy: encryption, modes, wipe, keys ----------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(secret=st.text(min_size=8, max_size=40).filter(lambda s: len(s.encode()) >= 8))
def test_a_planted_secret_never_reaches_the_disk(secret: str) -> None:  # the default mode
    planted = secret.encode()
    with tempfile.TemporaryDirectory() as root:
        directory = Path(root) / "s"
        with Spool(directory, key=KEY, segment_bytes=2048) as spool:
            for i in range(40):
                spool.append(b'{"seq":%d,"text":"%s"}' % (i, planted))
            cursor, records = spool.peek(15, ALL)
            assert all(planted in r for r in records)
            spool.ack(cursor)
            for path in directory.iterdir():
                assert planted not in path.read_bytes(), path.name
        for path in directory.iterdir():
            assert planted not in path.read_bytes(), path.name


def test_files_are_0600_and_the_directory_0700(tmp_path: Path, umask0: None) -> None:
    loose = tmp_path / "s"
    loose.mkdir(mode=0o755)
    with Spool(loose, key=KEY, segment_bytes=2048) as spool:
        for i in range(50):
            spool.append(rec(i, 100))
        spool.ack(spool.peek(10, ALL)[0])
        assert stat.S_IMODE(loose.stat().st_mode) == 0o700  # tightened
        files = list(loose.iterdir())
        assert {p.suffix for p in files} == {".seg", ""}
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    with Spool(tmp_path / "new", key=KEY):
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_wipe_deletes_every_spool_file_and_keeps_working(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    with Spool(directory, key=KEY, segment_bytes=2048) as spool:
        for i in range(100):
            spool.append(rec(i, 50))
        stale, _ = spool.peek(10, ALL)
        spool.ack(spool.peek(5, ALL)[0])
        (directory / "inflight.json").write_text("{}")  # the client's file: not the spool's
        spool.wipe()
        assert sorted(p.name for p in directory.iterdir()) == ["inflight.json"]
        assert spool.stats().records == 0
        assert spool.stats().bytes == 0
        assert spool.peek(10, ALL)[1] == []
        spool.append(b"after")
        spool.ack(stale)  # a cursor from before the wipe acknowledges nothing
        assert spool.peek(10, ALL)[1] == [b"after"]
        spool.wipe()
    with Spool(directory, key=KEY) as spool:
        assert spool.stats().records == 0


def test_the_key_file_is_private_stable_and_outside_the_spool(
    tmp_path: Path, umask0: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OsKeyring, "available", staticmethod(lambda: False))
    spool_dir = tmp_path / "agent" / "spool"
    store = default_key_store(spool_dir)
    assert isinstance(store, KeyFile)
    assert store.path == tmp_path / "agent" / ".spool.key"
    assert spool_dir not in store.path.parents
    key = store.load_or_create()
    assert len(key) == 32
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert KeyFile(store.path).load_or_create() == key
    assert [p.name for p in store.path.parent.iterdir()] == [".spool.key"]  # no temp file left
    with Spool(spool_dir, key=key) as spool:
        spool.append(b"x")
        assert not list(spool_dir.glob("*.key"))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_a_key_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / ".spool.key"
    KeyFile(path).load_or_create()
    path.chmod(mode)
    with pytest.raises(KeyStoreError, match="group or others"):
        KeyFile(path).load_or_create()


def test_a_key_file_of_the_wrong_size_or_a_symlink_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".spool.key"
    path.write_bytes(b"k" * 31)
    path.chmod(0o600)
    with pytest.raises(KeyStoreError, match="31 bytes"):
        KeyFile(path).load_or_create()
    real = tmp_path / "real.key"
    KeyFile(real).load_or_create()
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(KeyStoreError, match="cannot open"):
        KeyFile(link).load_or_create()


def fake_keyring(backend_module: str, backend_name: str = "Keyring") -> types.ModuleType:
    backend_cls = type(backend_name, (), {"priority": 5, "__module__": backend_module})
    vault: dict[tuple[str, str], str] = {}
    module = types.ModuleType("keyring")
    module.get_keyring = backend_cls  # type: ignore[attr-defined]
    module.get_password = lambda service, user: vault.get((service, user))  # type: ignore[attr-defined]
    module.set_password = lambda service, user, value: vault.__setitem__((service, user), value)  # type: ignore[attr-defined]
    module.vault = vault  # type: ignore[attr-defined]
    return module


def test_the_os_keyring_is_used_only_with_a_real_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # not installed
    assert not OsKeyring.available()
    assert isinstance(default_key_store(tmp_path / "s"), KeyFile)
    for module, name in [
        ("keyring.backends.fail", "Keyring"),
        ("keyring.backends.null", "Keyring"),
        ("keyrings.alt.file", "PlaintextKeyring"),
    ]:
        monkeypatch.setitem(sys.modules, "keyring", fake_keyring(module, name))
        assert not OsKeyring.available(), module
    real = fake_keyring("keyring.backends.macOS")
    monkeypatch.setitem(sys.modules, "keyring", real)
    assert OsKeyring.available()
    store = default_key_store(tmp_path / "s")
    assert isinstance(store, OsKeyring)
    key = store.load_or_create()
    assert len(key) == 32
    assert store.load_or_create() == key
    [(service, user)] = real.vault
    assert service == keys.SERVICE
    assert str(tmp_path) not in user  # the path (often holding a user name) is hashed


# -- bounds -------------------------------------------------------------------------------------


def test_the_size_bound_drops_the_oldest_segments_and_counts_them(
    tmp_path: Path, mapped: bool
) -> None:
    directory = tmp_path / "s"
    max_bytes, segment_bytes = 2**20, 64 * 2**10
    appended = 20 * 2**20 // 1024  # 20 MiB of 1 KiB records
    with Spool(directory, key=KEY, max_bytes=max_bytes, segment_bytes=segment_bytes) as spool:
        for i in range(appended):
            spool.append(rec(i, 1024 - 7))
            if i % 512 == 0:
                assert disk_bytes(directory) <= max_bytes  # reserved space counted
        stats = spool.stats()
        assert stats.bytes == disk_bytes(directory) <= max_bytes
        kept = drain(spool)
        assert len(kept) + stats.dropped_oldest == appended
        assert kept == [rec(i, 1024 - 7) for i in range(stats.dropped_oldest, appended)]
        assert stats.dropped_age == 0


def test_acknowledged_records_are_not_counted_as_dropped(tmp_path: Path) -> None:
    with Spool(tmp_path / "s", key=KEY, max_bytes=8192, segment_bytes=4096) as spool:
        for i in range(30):
            spool.append(rec(i, 100))
        cursor, records = spool.peek(5, ALL)
        spool.ack(cursor)
        for i in range(30, 200):
            spool.append(rec(i, 100))
        kept = drain(spool)
        assert len(records) + spool.stats().dropped_oldest + len(kept) == 200


def test_the_age_bound_drops_whole_segments_by_their_newest_record(tmp_path: Path) -> None:
    now = [1_000_000.0]
    day = 86400.0
    directory = tmp_path / "s"

    def open_spool() -> Spool:
        return Spool(
            directory, key=KEY, max_age_s=7 * day, segment_bytes=2048, clock=lambda: now[0]
        )

    per_segment = (2048 - HEADER_LEN) // (FRAME_OVERHEAD + len(rec(0, 100)))  # 13
    spool = open_spool()
    for i in range(30):  # day 0: two full segments and 4 records in the active one
        spool.append(rec(i, 100))
    now[0] += 3 * day
    for i in range(30, 40):  # day 3: these fill the active segment, then start a new one
        spool.append(rec(i, 100))
    now[0] += 4 * day + 1  # day-0 records are older than 7 days now
    stats = spool.stats()
    # Whole segments by their newest record: the 4 day-0 records that share a segment with
    # day-3 records stay until that segment expires (kept longer, never dropped early).
    assert stats.dropped_age == 2 * per_segment
    assert stats.records == 40 - 2 * per_segment
    assert spool.peek(ALL, ALL)[1] == [rec(i, 100) for i in range(2 * per_segment, 40)]
    spool.close()

    now[0] += 2 * day  # the restart reads each segment's newest time back from its last record
    with open_spool() as again:
        assert again.stats().records == 40 - 2 * per_segment
        assert again.stats().dropped_age == 0
    now[0] += 1 * day
    with open_spool() as again:
        assert again.stats().records == 0
        assert again.stats().dropped_age == 40 - 2 * per_segment
        assert segments(directory) == []
        again.append(b"fresh")
        assert again.peek(ALL, ALL)[1] == [b"fresh"]


# -- concurrency, weight -------------------------------------------------------------------------


def test_eight_threads_append_while_a_consumer_acks_and_nothing_is_lost(
    tmp_path: Path, mapped: bool
) -> None:
    threads, per_thread = 8, 2500
    delivered: list[bytes] = []
    done = threading.Event()
    with Spool(tmp_path / "s", key=KEY, segment_bytes=32 * 2**10) as spool:

        def produce(t: int) -> None:
            for i in range(per_thread):
                spool.append(b"%d:%06d" % (t, i))

        def consume() -> None:
            while True:
                finished = done.is_set()
                cursor, records = spool.peek(700, ALL)
                delivered.extend(records)
                spool.ack(cursor)
                if finished and not records:
                    return

        consumer = threading.Thread(target=consume)
        consumer.start()
        producers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join()
        done.set()
        consumer.join(30)
        assert spool.stats().records == 0
    assert len(delivered) == threads * per_thread
    by_thread: dict[bytes, list[bytes]] = collections.defaultdict(list)
    for record in delivered:
        t, i = record.split(b":")
        by_thread[t].append(i)
    for sequence in by_thread.values():
        assert sequence == [b"%06d" % i for i in range(per_thread)]  # each thread's order kept


def test_the_spool_imports_neither_pyarrow_nor_boto3_nor_the_server() -> None:
    probe = (
        "import sys, ilake_agent.spool, ilake_agent.keys; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'pyarrow', 'boto3', 'botocore', 'ilake', 'lambdas'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    assert out.stdout.decode().strip() == "[]"
