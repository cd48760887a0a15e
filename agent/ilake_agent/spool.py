"""The agent's durable, bounded, encrypted on-disk queue of records awaiting delivery.

On disk (one directory, mode 0700; every file 0600; files not named below are left alone):

- `<seq:020d>.seg` segments, appended in order. A 68-byte header: magic `ILSPOOL\\x02`, segment
  seq (u64), created-at (f64), a 16-byte segment id (8 random bytes naming the process lifetime
  that wrote it, 8 random bytes of its own), and a key check (a 12-byte nonce and
  the AES-GCM tag of nothing, authenticating the first 40 bytes). Then frames: `u32 length |
  u32 NOT length | nonce(12) | AES-GCM(ciphertext | tag(16))` of `appended_at (f64) | record`,
  with the header and the frame's offset (u64) as associated data, so a record cannot be
  altered, moved or spliced into another segment without failing authentication. Lengths
  (record sizes) are visible, contents are not. A segment is created complete (header written
  to a `.tmp`, then renamed).
- Keys: each segment is encrypted under its own AES-256 key, HMAC-SHA256(spool key, "segment" |
  segment id), so random 96-bit nonces stay far inside GCM's limit of 2^32 messages per key
  however long the spool key lives. Nonces come from the OS CSPRNG, read in blocks (one syscall
  per 4096 records); a forked child discards the block it inherited.
- `cursor`: the read position (segment, offset, records before it), replaced atomically
  (write, fsync, `os.replace`, fsync the directory) on every `ack`.

Durability: once `append` returns, its frame is in the kernel's page cache, complete, and
survives `kill -9` of this process; there is no fsync per record (that would cost
milliseconds), so an OS crash or power loss can lose the last seconds of records. `close()`
fsyncs. Where the OS can reserve a file's blocks (`posix_fallocate`: Linux), the segment being
written is reserved whole when it is created, so a full disk fails there and not in the middle
of a record, and mapped into memory (`mmap`, shared): a frame is then written with no system
call at all. Its body goes first and its length word last, as one commit: until the length and
its complement agree, the frame does not exist, and a process killed half-way through that word
leaves a mismatch (each byte is either final or still zero, and no byte of a length is the
complement of itself). Elsewhere (macOS, Windows, a file system that cannot reserve blocks)
each frame is one `os.write` to a kept-open descriptor. Either way, on open, the frames of a
segment are read up to the first one that is not complete (a length word that is not the
complement pair, or a frame running past the end); in the last segment a process lifetime
wrote, that is where it stopped (killed, or the unused reserved space): the rest is truncated
away and never returned. The same in a segment its writer went on from is not a crash but
corruption, and is reported like a failed record (below). Sealing a segment (going on to the
next, or `close`) gives back its unused reserved space, so only the segment being written is
larger than its frames.

Integrity: a key that does not match the segments raises `SpoolKeyError` when the spool opens
(nothing is deleted: restore the key, or `wipe_directory`). A frame that fails authentication raises
`SpoolCorruptError` from `peek`, after first returning the good records before it; the error's
`skip` cursor, passed to `ack`, gives up the rest of that segment (frames cannot be re-synced
after a damaged one). Silently skipping would hide tampering and lose records uncounted.

Bounds: after each append, while the segments exceed `max_bytes` (the segment being written
counted at its reserved size: what it takes on disk), the oldest whole segment is deleted and
its unacknowledged records counted in `dropped_oldest` (so the disk use never exceeds
`max_bytes`). Age is per segment: a segment is deleted, its unacknowledged records
counted in `dropped_age`, once its NEWEST record is older than `max_age_s`, so no record goes
early and none outlives the bound by more than its segment's time span. The counters are kept
since the spool was opened; a record dropped between a `peek` and its `ack` is counted as
dropped though the caller may have delivered it; wipes are not counted. Memory stays bounded:
the spool keeps a few numbers per segment, maps at most the one segment being written, and
`peek` reads from disk.

One process at a time: the directory is locked (`flock`) while a spool is open.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import mmap
import os
import struct
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one agent per spool is then the caller's job
    fcntl = None  # type: ignore[assignment]

MAGIC = b"ILSPOOL\x02"
_HEAD = struct.Struct(">8sQd8s8s")  # magic, seq, created_at, lifetime id, random: authenticated
_HEADER = struct.Struct(">40s12s16s")  # that, key-check nonce, key-check tag
HEADER_LEN = _HEADER.size  # 68
_COMMIT = struct.Struct(">II")  # the frame's length and its complement: see the docstring
_MASK = 0xFFFFFFFF
_OFFSET = struct.Struct(">Q")
_TIME = struct.Struct(">d")
_CURSOR = struct.Struct(">8sQQQ")
CURSOR_MAGIC = b"ILSPCUR\x01"
NONCE = 12
TAG = 16
BODY_OVERHEAD = NONCE + _TIME.size + TAG  # per frame, after the commit word
FRAME_OVERHEAD = _COMMIT.size + BODY_OVERHEAD  # 44 bytes per record on disk
SEGMENT_SUFFIX = ".seg"
CURSOR_FILE = "cursor"
TMP_SUFFIX = ".tmp"

_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
# Map the segment being written where its blocks can be reserved first (see the docstring).
CAN_MAP = hasattr(os, "posix_fallocate") and hasattr(mmap, "MAP_SHARED")


class SpoolError(Exception):
    """A spool problem; messages name files and offsets, never record contents."""


class SpoolClosedError(SpoolError):
    pass


class SpoolKeyError(SpoolError):
    """The key does not open these segments (another key, or a tampered header)."""


class SpoolCorruptError(SpoolError):
    """A record failed authentication; `ack(err.skip)` gives up the rest of its segment."""

    def __init__(self, message: str, skip: Cursor) -> None:
        super().__init__(message)
        self.skip = skip


@dataclass(frozen=True, slots=True)
class Cursor:
    """Opaque to callers: a position just after the last record a `peek` returned."""

    epoch: int  # bumped by wipe(): a cursor from before a wipe acknowledges nothing
    segment: int
    offset: int
    index: int  # records of `segment` before `offset`


@dataclass(frozen=True)
class SpoolStats:
    records: int  # unacknowledged records on disk
    bytes: int  # size of all segment files
    dropped_oldest: int  # unacknowledged records deleted by the size bound since open
    dropped_age: int  # unacknowledged records deleted by the age bound since open


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    header: bytes
    aead: AESGCM  # under the segment's own key
    end: int  # valid bytes (a torn tail is cut off on open)
    records: int
    newest: float  # appended_at of the newest record (the creation time while empty)
    damaged: bool = False  # unreadable frames follow `end` (not a torn tail): peek reports them
    size: int = 0  # bytes on disk: `end`, or the reserved size while it is being written
    aad: bytearray = field(default_factory=bytearray)  # header | offset, while being written


class Spool:
    def __init__(
        self,
        directory: Path,
        *,
        key: bytes,
        max_bytes: int = 256 * 2**20,
        max_age_s: float = 7 * 86400,
        segment_bytes: int = 4 * 2**20,
        clock: Callable[[], float] = time.time,
        mapped: bool = CAN_MAP,
    ) -> None:
        if len(key) != 32:
            raise ValueError("the spool key must be 32 bytes (AES-256)")
        if segment_bytes < HEADER_LEN + FRAME_OVERHEAD + 1024:
            raise ValueError("segment_bytes is too small")
        if max_bytes < segment_bytes:
            raise ValueError("max_bytes must be at least segment_bytes")
        if max_age_s <= 0:
            raise ValueError("max_age_s must be positive")
        self.directory = Path(directory)
        self._key = key
        self._max_bytes = max_bytes
        self._max_age = max_age_s
        self._segment_bytes = segment_bytes
        self.max_record = segment_bytes - HEADER_LEN - FRAME_OVERHEAD
        self._clock = clock
        self._lock = threading.Lock()  # segments, counters, the open descriptor
        self._ack_lock = threading.Lock()  # serializes cursor writes (done outside _lock)
        self._segments: list[_Segment] = []  # oldest first; the last may be the active one
        self._active: _Segment | None = None  # appends go here; None until the first append
        self._fd = -1
        self._mapped = mapped and CAN_MAP  # may turn False if the file system cannot reserve
        self._map: mmap.mmap | None = None  # the active segment, mapped
        self._view: memoryview | None = None
        self._bytes = 0
        self._dropped_oldest = 0
        self._dropped_age = 0
        self._epoch = 0
        self._ack = Cursor(0, 0, 0, 0)
        self._next_seq = 1
        self._closed = False
        # Random nonces, drawn from the OS CSPRNG in blocks; emptied in a forked child (below),
        # so a child can never reuse its parent's nonces under the same key.
        self._nonces = b""
        self._nonce_at = 0
        self._lifetime = os.urandom(8)  # marks the segments this instance writes
        _LIVE.add(self)
        self._dir_fd = self._lock_directory()
        try:
            self._recover()
            with self._lock:
                self._expire(self._clock())
        except BaseException:
            os.close(self._dir_fd)
            raise

    # -- the producer side ------------------------------------------------------------------

    def append(self, record: bytes) -> None:
        """Encrypt and write one record; once this returns, it survives a crash of the process."""
        if len(record) > self.max_record:
            raise ValueError(f"a record may be at most {self.max_record} bytes")
        with self._lock:
            seg = self._active
            if seg is None and self._closed:
                raise SpoolClosedError("the spool is closed")
            now = self._clock()
            segments = self._segments
            if segments and segments[0].newest < now - self._max_age:
                self._expire(now)
                seg = self._active
            if seg is None or seg.end + FRAME_OVERHEAD + len(record) > self._segment_bytes:
                seg = self._rotate(now)
            at = self._nonce_at
            if at == len(self._nonces):  # one getrandom() per 4096 records, not per record
                self._nonces, at = os.urandom(NONCE * 4096), 0
            nonce = self._nonces[at : at + NONCE]
            self._nonce_at = at + NONCE
            offset = seg.end
            aad = seg.aad
            _OFFSET.pack_into(aad, HEADER_LEN, offset)
            plain = _TIME.pack(now) + record
            n = NONCE + len(plain) + TAG  # the frame's length, after the commit word
            end = offset + _COMMIT.size + n
            body = nonce + seg.aead.encrypt(nonce, plain, aad)
            view = self._view
            if view is not None:
                view[offset + _COMMIT.size : end] = body
                _COMMIT.pack_into(view, offset, n, n ^ _MASK)  # last: now the frame exists
            else:
                frame = _COMMIT.pack(n, n ^ _MASK) + body
                written = os.write(self._fd, frame)
                if written != len(frame):  # disk full: never leave half a frame behind
                    os.ftruncate(self._fd, offset)
                    raise OSError(f"short write to the spool ({written} of {len(frame)} bytes)")
                seg.size = end
                self._bytes += end - offset
            seg.end = end
            seg.records += 1
            seg.newest = now
            if self._bytes > self._max_bytes:
                self._enforce_size()

    # -- the consumer side ------------------------------------------------------------------

    def peek(self, max_records: int, max_bytes: int) -> tuple[Cursor, list[bytes]]:
        """The oldest unacknowledged records, in append order, left in place until `ack`.

        At most `max_records`, and at most `max_bytes` of records, except that a single record
        larger than `max_bytes` is still returned alone (it could never be delivered otherwise).
        Reads happen outside the lock, so appends are not held up while records are decrypted.
        """
        with self._lock:
            if self._closed:
                raise SpoolClosedError("the spool is closed")
            self._expire(self._clock())
            start = self._ack
            plan = [
                (s.seq, s.path, s.header, s.aead, s.end, s.records, s.damaged)
                for s in self._segments
                if s.seq >= start.segment
            ]
        cursor = start
        records: list[bytes] = []
        size = 0
        for seq, path, header, aead, end, count, damaged in plan:
            offset, index = (start.offset, start.index) if seq == start.segment else (HEADER_LEN, 0)
            try:
                f = open(path, "rb", buffering=256 * 1024)  # noqa: SIM115 - closed below
            except FileNotFoundError:  # dropped by a bound meanwhile: its records are counted
                continue
            with f:
                f.seek(offset)
                skip = Cursor(start.epoch, seq, end, count)
                while offset < end and len(records) < max_records:
                    n = _frame_length(f.read(_COMMIT.size))
                    if n < BODY_OVERHEAD or offset + _COMMIT.size + n > end:
                        if records:
                            return cursor, records
                        raise SpoolCorruptError(f"{path.name}: bad frame at {offset}", skip)
                    if records and size + n - BODY_OVERHEAD > max_bytes:
                        return cursor, records
                    body = f.read(n)
                    try:
                        plain = aead.decrypt(
                            body[:NONCE], body[NONCE:], header + _OFFSET.pack(offset)
                        )
                    except InvalidTag:
                        if records:
                            return cursor, records
                        raise SpoolCorruptError(
                            f"{path.name}: the record at offset {offset} failed authentication",
                            skip,
                        ) from None
                    records.append(plain[_TIME.size :])
                    size += len(plain) - _TIME.size
                    offset += _COMMIT.size + n
                    index += 1
                    cursor = Cursor(start.epoch, seq, offset, index)
            if len(records) >= max_records:
                break
            if damaged:
                if records:
                    return cursor, records
                past = Cursor(start.epoch, seq, end + 1, count)  # past the damage: see _take_acked
                raise SpoolCorruptError(f"{path.name}: damaged frame at offset {end}", past)
        return cursor, records

    def ack(self, cursor: Cursor) -> None:
        """The records up to `cursor` are delivered: never returned again, even after a restart."""
        if not isinstance(cursor, Cursor):
            raise TypeError("ack() takes a Cursor returned by peek()")
        with self._ack_lock:
            with self._lock:
                if self._closed:
                    raise SpoolClosedError("the spool is closed")
                ack = self._ack
                if cursor.epoch != self._epoch or (cursor.segment, cursor.offset) <= (
                    ack.segment,
                    ack.offset,
                ):
                    return  # from before a wipe, or already acknowledged
                self._ack = cursor
                done = self._take_acked()
            self._write_cursor(cursor)  # before deleting: a crash in between must not replay
            for seg in done:
                _unlink(seg.path)

    def wipe(self) -> None:
        """Delete every segment and the cursor: the program is paused, nothing may be kept."""
        with self._ack_lock, self._lock:
            self._release_active(seal=False)
            _delete_spool_files(self.directory)
            self._segments = []
            self._bytes = 0
            self._epoch += 1
            self._ack = Cursor(self._epoch, 0, 0, 0)

    def stats(self) -> SpoolStats:
        with self._lock:
            if not self._closed:
                self._expire(self._clock())
            return SpoolStats(
                records=sum(self._unacked(s) for s in self._segments),
                bytes=self._bytes,
                dropped_oldest=self._dropped_oldest,
                dropped_age=self._dropped_age,
            )

    def close(self) -> None:
        """Fsync and close the active segment and release the directory; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._release_active(seal=True, sync=True)
            os.close(self._dir_fd)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (the caller holds _lock unless said otherwise) ---------------------------

    def _segment_aead(self, segment_id: bytes) -> AESGCM:
        return AESGCM(hmac.digest(self._key, b"segment" + segment_id, hashlib.sha256))

    def _unacked(self, seg: _Segment) -> int:
        ack = self._ack
        if seg.seq < ack.segment:
            return 0
        if seg.seq == ack.segment:
            return seg.records - ack.index
        return seg.records

    def _release_active(self, *, seal: bool, sync: bool = False) -> None:
        """Stop writing to the active segment: unmap it and close it. Sealing gives back its
        unused reserved space (the frames end where the file does)."""
        seg = self._active
        self._active = None
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._map is not None:
            if sync:
                self._map.flush()
            self._map.close()
            self._map = None
        if self._fd < 0:
            return
        try:
            if seal and seg is not None and seg.size != seg.end:
                os.ftruncate(self._fd, seg.end)
                self._bytes -= seg.size - seg.end
                seg.size = seg.end
            if sync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1

    def _rotate(self, now: float) -> _Segment:
        """Seal the active segment and start a new one, complete with its header (and, mapped,
        its blocks reserved)."""
        self._release_active(seal=True)
        for seg in self._take_acked():  # the sealed one may already be fully acknowledged
            _unlink(seg.path)
        seq = self._next_seq  # never reused while open: a stale cursor cannot match a new segment
        self._next_seq += 1
        own = os.urandom(8)
        aead = self._segment_aead(self._lifetime + own)
        head = _HEAD.pack(MAGIC, seq, now, self._lifetime, own)
        check_nonce = os.urandom(NONCE)
        header = _HEADER.pack(head, check_nonce, aead.encrypt(check_nonce, b"", head))
        path = self.directory / f"{seq:020d}{SEGMENT_SUFFIX}"
        tmp = path.with_name(path.name + TMP_SUFFIX)
        _unlink(tmp)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600)
        try:
            os.write(fd, header)
            size = self._reserve(fd) if self._mapped else HEADER_LEN
            if size == HEADER_LEN:  # frame by frame, each written at the end of the file
                os.close(fd)
                fd = -1
                fd = os.open(tmp, os.O_WRONLY | os.O_APPEND | _FLAGS)
            os.replace(tmp, path)
            if size > HEADER_LEN:
                self._map = mmap.mmap(
                    fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE
                )
                self._view = memoryview(self._map)
        except BaseException:
            if self._map is not None:
                self._map.close()
                self._map = None
            if fd >= 0:
                os.close(fd)
            _unlink(tmp)
            _unlink(path)
            raise
        self._fd = fd
        seg = _Segment(seq, path, header, aead, HEADER_LEN, 0, now, size=size)
        seg.aad = bytearray(header + bytes(_OFFSET.size))
        self._segments.append(seg)
        self._active = seg
        self._bytes += size
        return seg

    def _reserve(self, fd: int) -> int:
        """Reserve the whole segment on disk: its size. HEADER_LEN when this file system cannot
        reserve blocks: the spool then writes its frames instead of mapping them."""
        try:
            os.posix_fallocate(fd, 0, self._segment_bytes)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise  # ENOSPC above all: the disk is full, and nothing was appended
            self._mapped = False
            return HEADER_LEN
        return self._segment_bytes

    def _enforce_size(self) -> None:
        while self._bytes > self._max_bytes and len(self._segments) > 1:
            self._dropped_oldest += self._drop(self._segments[0])

    def _expire(self, now: float) -> None:
        cutoff = now - self._max_age
        while self._segments and self._segments[0].newest < cutoff:
            self._dropped_age += self._drop(self._segments[0])

    def _drop(self, seg: _Segment) -> int:
        """Delete one segment (oldest first); returns its unacknowledged records."""
        lost = self._unacked(seg)
        if seg is self._active:
            self._release_active(seal=False)
        self._segments.remove(seg)
        self._bytes -= seg.size
        _unlink(seg.path)
        return lost

    def _take_acked(self) -> list[_Segment]:
        """Detach the sealed segments that are fully acknowledged; the caller unlinks them.

        A damaged segment goes only when its damage was given up too (`SpoolCorruptError.skip`
        points one past its valid end), so acknowledging the good records before the damage
        does not silently delete it.
        """
        ack = self._ack
        done = [
            s
            for s in self._segments
            if s is not self._active
            and (
                s.seq < ack.segment
                or (s.seq == ack.segment and ack.offset >= s.end + (1 if s.damaged else 0))
            )
        ]
        for seg in done:
            self._segments.remove(seg)
            self._bytes -= seg.size
        return done

    def _write_cursor(self, cursor: Cursor) -> None:
        """Called with _ack_lock held (not _lock): the fsyncs do not hold up appends."""
        data = _CURSOR.pack(CURSOR_MAGIC, cursor.segment, cursor.offset, cursor.index)
        path = self.directory / CURSOR_FILE
        tmp = path.with_name(CURSOR_FILE + TMP_SUFFIX)
        _unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(self.directory)

    def _lock_directory(self) -> int:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and self.directory.stat().st_mode & 0o077:
            os.chmod(self.directory, 0o700)
        fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise SpoolError(f"the spool {self.directory} is already open") from None
        return fd

    def _recover(self) -> None:
        """Rebuild the in-memory view from disk: segments, torn tails, the read position."""
        names = sorted(os.listdir(self.directory))
        for name in names:
            if name.endswith(TMP_SUFFIX):  # an interrupted segment or cursor creation
                _unlink(self.directory / name)
        lifetimes: dict[int, bytes] = {}  # seq -> the lifetime id in its header
        for name in names:
            if _is_segment(name):
                with open(self.directory / name, "rb") as f:
                    lifetimes[int(name[: -len(SEGMENT_SUFFIX)])] = f.read(HEADER_LEN)[24:32]
        for seq, lifetime in lifetimes.items():
            # Its writer went on to the next segment: it was complete, so it cannot be torn.
            sealed = lifetimes.get(seq + 1) == lifetime
            seg = self._load_segment(self.directory / f"{seq:020d}{SEGMENT_SUFFIX}", seq, sealed)
            if seg.records or seg.damaged:
                self._segments.append(seg)
                self._bytes += seg.size
            else:
                _unlink(seg.path)
        try:
            data = (self.directory / CURSOR_FILE).read_bytes()
        except FileNotFoundError:
            data = b""
        if data:
            if len(data) != _CURSOR.size or data[:8] != CURSOR_MAGIC:
                raise SpoolError(f"{self.directory / CURSOR_FILE} is not a spool cursor")
            _, segment, offset, index = _CURSOR.unpack(data)
            self._ack = Cursor(0, segment, offset, index)
        self._next_seq = max([self._ack.segment, *(s.seq for s in self._segments)]) + 1
        for seg in self._take_acked():
            _unlink(seg.path)

    def _load_segment(self, path: Path, seq: int, sealed: bool) -> _Segment:
        with open(path, "r+b") as f:
            header = f.read(HEADER_LEN)
            if len(header) != HEADER_LEN:
                raise SpoolError(f"{path.name}: truncated header")
            head, check_nonce, check_tag = _HEADER.unpack(header)
            magic, header_seq, created_at, lifetime, own = _HEAD.unpack(head)
            if magic[:7] == MAGIC[:7] and magic != MAGIC:
                raise SpoolError(f"{path.name}: a spool segment of another format version")
            if magic != MAGIC or header_seq != seq:
                raise SpoolError(f"{path.name}: not a spool segment")
            aead = self._segment_aead(lifetime + own)
            try:
                aead.decrypt(check_nonce, check_tag, head)
            except InvalidTag:
                raise SpoolKeyError(
                    f"{path.name}: the key does not match this spool (another key, or tampering)"
                ) from None
            size = os.fstat(f.fileno()).st_size
            offset, records, last = HEADER_LEN, 0, -1
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                while offset + _COMMIT.size <= size:
                    n = _frame_length(mm[offset : offset + _COMMIT.size])
                    if n < BODY_OVERHEAD or offset + _COMMIT.size + n > size:
                        break  # where the writer stopped (killed, or reserved space), or damage
                    last, offset, records = offset, offset + _COMMIT.size + n, records + 1
                newest = created_at
                if last >= 0:
                    body = mm[last + _COMMIT.size : offset]
                    with contextlib.suppress(InvalidTag):  # peek will report it
                        plain = aead.decrypt(
                            body[:NONCE], body[NONCE:], header + _OFFSET.pack(last)
                        )
                        (newest,) = _TIME.unpack_from(plain)
            damaged = offset < size and sealed
            if offset < size and not sealed:
                f.truncate(offset)
        return _Segment(seq, path, header, aead, offset, records, newest, damaged, size=offset)


def _frame_length(word: bytes) -> int:
    """The length in a frame's commit word, or 0 when the word is not a complete commit."""
    if len(word) != _COMMIT.size:
        return 0
    n, check = _COMMIT.unpack(word)
    return n if n ^ check == _MASK else 0


_LIVE: weakref.WeakSet[Spool] = weakref.WeakSet()


def _forget_nonces() -> None:
    for spool in list(_LIVE):
        spool._nonces, spool._nonce_at = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_nonces)


def wipe_directory(directory: Path) -> None:
    """Delete a spool's files without its key (for a spool that no longer opens: a lost key).

    Refuses while a spool is open on the directory; files that are not the spool's stay.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise SpoolError(f"the spool {directory} is open; call its wipe()") from None
        _delete_spool_files(directory)
    finally:
        os.close(fd)


def _delete_spool_files(directory: Path) -> None:
    """Segments oldest first and the cursor last: a crash part-way never makes an acknowledged
    record come back."""
    for name in sorted(os.listdir(directory)):
        if _is_segment(name) or name.endswith(TMP_SUFFIX):
            _unlink(directory / name)
    _unlink(directory / CURSOR_FILE)
    _fsync_dir(directory)


def _is_segment(name: str) -> bool:
    return name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit()


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(directory: Path) -> None:
    """Make renames and deletions in the directory durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "Cursor",
    "Spool",
    "SpoolClosedError",
    "SpoolCorruptError",
    "SpoolError",
    "SpoolKeyError",
    "SpoolStats",
    "wipe_directory",
]
