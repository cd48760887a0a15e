"""The X11 backend's reader of RECORD's reply stream, on scripted bytes: replies framed by
their length however the socket splits them, EndOfData and an X error end it, events on the
connection are skipped (docs/agent.md#linuxx11-what-is-captured-and-how)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

pytest.importorskip("Xlib")

from Xlib.ext import record

from ilake_agent.desktop.x11 import _read_records


def reply(category: int, data: bytes = b"", swapped: bool = False) -> bytes:
    assert len(data) % 4 == 0
    return struct.pack("=BBHLBB2xLLL8x", 1, category, 7, len(data) // 4, 0, swapped, 0, 0, 0) + data


EVENT = bytes([34]) + bytes(31)  # a MappingNotify on the connection
ERROR = bytes([0, 8]) + bytes(30)


class Socket:
    def __init__(self, stream: bytes, chunk: int) -> None:
        self.stream, self.chunk, self.sent = stream, chunk, b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, _size: int) -> bytes:
        part, self.stream = self.stream[: self.chunk], self.stream[self.chunk :]
        return part


class Conn:
    def __init__(self, sock: Socket) -> None:
        self.display = self
        self.socket = sock

    def get_extension_major(self, _name: str) -> int:
        return 146

    def flush(self) -> None:
        pass


def read(stream: bytes, chunk: int) -> tuple[list[tuple[int, bool, bytes]], Socket]:
    got: list[tuple[int, bool, bytes]] = []
    sock = Socket(stream, chunk)
    _read_records(Conn(sock), 0x400001, lambda *reply: got.append(reply))
    return got, sock


SCRIPT = [
    (record.StartOfData, False, b""),
    (record.FromServer, False, bytes(range(64))),
    (record.FromServer, True, bytes(32)),
]


@pytest.mark.parametrize("chunk", [1, 7, 31, 32, 33, 1 << 16])
def test_replies_are_framed_by_their_length_however_the_socket_splits_them(chunk: int) -> None:
    stream = b"".join(reply(c, d, s) for c, s, d in SCRIPT[:2])
    stream += EVENT + reply(SCRIPT[2][0], SCRIPT[2][2], True) + reply(record.EndOfData)
    stream += reply(record.FromServer, bytes(32))  # after EndOfData: never read
    got, sock = read(stream, chunk)
    assert got == SCRIPT
    assert sock.sent == struct.pack("=BBHL", 146, 5, 2, 0x400001)  # EnableContext


def test_an_x_error_ends_the_stream_instead_of_waiting_for_replies_that_never_come() -> None:
    got, _ = read(reply(record.StartOfData) + ERROR + reply(record.FromServer, bytes(32)), 5)
    assert got == [(record.StartOfData, False, b"")]


def test_a_closed_connection_ends_the_stream() -> None:
    assert read(reply(record.StartOfData) + reply(record.FromServer, bytes(32))[:40], 8)[0] == [
        (record.StartOfData, False, b"")
    ]


def test_a_socket_error_ends_the_stream() -> None:
    class Broken(Socket):
        def recv(self, _size: int) -> Any:
            raise ConnectionResetError

    _read_records(Conn(Broken(b"", 1)), 1, lambda *reply: None)
