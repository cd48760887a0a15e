"""The `ilake` command line: one module per command group, over the app, option types and
one-line error handling they share (base.py, whose docstring is the root help and exit codes)."""

# Each module registers its commands on `app` as it loads, so the order here is the order
# `ilake --help` lists them in (commands by the first module of each, then the groups).
# isort: off
from .base import app, main, reflow_help
from . import programs, agents, local_mode, agent, analytics, governance, maintenance, smoke, demo  # noqa: F401
from . import agent_desktop  # noqa: F401  (adds `agent pause` and `agent resume`)
# isort: on

reflow_help(app)

__all__ = ["app", "main"]
