"""Suite-wide settings. Unit tests run with sockets disabled (pytest-socket, see pyproject)."""

from __future__ import annotations

import os

from hypothesis import settings

# CI replays the same examples every run (a red build is reproducible); locally they vary.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
