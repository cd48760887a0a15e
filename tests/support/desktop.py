"""A throwaway X desktop for the desktop-capture tests: Xvfb, test windows, xdotool.

`xvfb()` starts a server on a display number it picks itself (`-displayfd`), on a local socket
only (`-nolisten tcp`), and stops it. `TestWindow` maps a window with a known title (UTF-8
`_NET_WM_NAME`) and WM_CLASS at a known place. `Xdotool` drives the pointer, keys and focus.
Missing tools fail the test with the command that installs them: on Linux a capture test that
silently skips would hide a desktop that is not captured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from Xlib import X, Xatom, display

INSTALL = "apt-get install xvfb xdotool"
WIDTH, HEIGHT = 1280, 800
T = TypeVar("T")


def require_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: {INSTALL}", pytrace=False)


@contextmanager
def xvfb(width: int = WIDTH, height: int = HEIGHT) -> Iterator[str]:
    """An Xvfb server for the block; yields its display name (":N")."""
    require_tools()
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        number = _read_display_number(read_fd, server)
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


def _read_display_number(fd: int, server: subprocess.Popen[bytes]) -> int:
    """Xvfb writes the display number to the fd once it accepts connections."""
    text = b""
    deadline = time.monotonic() + 30
    while not text.endswith(b"\n"):
        chunk = os.read(fd, 16)
        if not chunk:
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            pytest.fail(f"Xvfb did not start: {err.strip()[-300:]}", pytrace=False)
        text += chunk
        if time.monotonic() > deadline:
            pytest.fail("Xvfb did not report a display number within 30 s", pytrace=False)
    return int(text)


@dataclass(frozen=True)
class Geometry:
    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.w // 2, self.y + self.h // 2


class TestWindow:
    """A mapped top-level window on its own connection (closing it destroys the window)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, display_name: str, *, title: str, wm_class: tuple[str, str], geometry: Geometry
    ) -> None:
        self.title, self.wm_class, self.geometry = title, wm_class, geometry
        self._conn = display.Display(display_name)
        root = self._conn.screen().root
        self._window = root.create_window(
            geometry.x,
            geometry.y,
            geometry.w,
            geometry.h,
            0,
            self._conn.screen().root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=self._conn.screen().white_pixel,
            event_mask=X.KeyPressMask | X.ButtonPressMask | X.PointerMotionMask,
        )
        self._window.set_wm_class(*wm_class)
        self._window.set_wm_name(title.encode("ascii", "replace").decode())
        self.set_title(title)
        self._window.map()
        self._conn.sync()
        self.id: int = self._window.id

    def set_title(self, title: str) -> None:
        self.title = title
        self._window.change_property(
            self._conn.intern_atom("_NET_WM_NAME"),
            self._conn.intern_atom("UTF8_STRING"),
            8,
            title.encode("utf-8"),
        )
        self._conn.sync()

    def close(self) -> None:
        self._window.destroy()
        self._conn.close()


def wm_name_only(display_name: str, *, title: str, wm_class: tuple[str, str]) -> Any:
    """A window with only the legacy WM_NAME (no _NET_WM_NAME): the title's fallback."""
    conn = display.Display(display_name)
    root = conn.screen().root
    window = root.create_window(10, 10, 50, 50, 0, conn.screen().root_depth)
    window.set_wm_class(*wm_class)
    window.change_property(Xatom.WM_NAME, Xatom.STRING, 8, title.encode("latin-1"))
    window.map()
    conn.sync()
    return conn, window


class Xdotool:
    """xdotool against one display; every call waits for xdotool to finish."""

    def __init__(self, display_name: str) -> None:
        require_tools()
        self._env = {**os.environ, "DISPLAY": display_name}

    def __call__(self, *args: str | int) -> None:
        done = subprocess.run(
            ["xdotool", *map(str, args)], env=self._env, capture_output=True, timeout=60
        )
        if done.returncode != 0:
            raise AssertionError(f"xdotool {args} failed: {done.stderr.decode().strip()}")

    def mousemove(self, x: int, y: int) -> None:
        self("mousemove", x, y)

    def click(self, button: int) -> None:
        self("click", button)

    def key(self, *keys: str) -> None:
        self("key", *keys)

    def type(self, text: str) -> None:
        self("type", "--delay", 5, text)

    def focus(self, window_id: int) -> None:
        self("windowfocus", "--sync", window_id)


def wait_for(condition: Callable[[], T], *, timeout: float = 20.0, what: str = "") -> T:
    """Poll until `condition()` is truthy (returned) or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
