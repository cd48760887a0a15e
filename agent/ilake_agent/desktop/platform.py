"""Which backend can capture this desktop, or why none can: refuse rather than capture partially.

Only an X11 session on Linux is captured today. A Wayland session is refused even when an X
server (XWayland) answers: it sees only the X clients' input and windows, so the agent would
miss the focus changes that deny an app's events. The backend and its library (python-xlib,
the `desktop` extra) are imported only here, and only once the session qualifies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from .backend import Backend, BackendUnavailable

INSTALL = "pip install 'ilake-agent[desktop]'"
_LIBRARIES = frozenset({"Xlib", "six"})  # the extra and what it needs


def open_backend(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Backend:
    """The backend for this session (its environment and sys.platform unless given);
    BackendUnavailable, with one line saying why, when this session cannot be captured as the
    program's policy requires."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        raise BackendUnavailable(f"desktop capture runs on Linux (X11) only, not on {platform}")
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or environ.get("WAYLAND_DISPLAY"):
        raise BackendUnavailable(
            "this is a Wayland session: its input and windows cannot all be seen, so nothing "
            "is captured (log in to an X11 session)"
        )
    display = environ.get("DISPLAY")
    if not display:
        raise BackendUnavailable("no X display: DISPLAY is not set")
    try:
        from .x11 import X11Backend
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] in _LIBRARIES:
            raise BackendUnavailable(
                f"the desktop libraries are not installed: {INSTALL}"
            ) from None
        raise BackendUnavailable("this agent has no X11 backend: reinstall ilake-agent") from None
    except ImportError:  # a partly installed library: say what cannot be opened
        raise BackendUnavailable(f"the X display {display} cannot be opened") from None
    try:
        backend: Backend = X11Backend(display)
    except BackendUnavailable:
        raise
    except Exception as exc:  # Xlib's connection errors and the like: one line, no traceback
        raise BackendUnavailable(
            f"the X display {display} cannot be opened ({type(exc).__name__})"
        ) from None
    return backend
