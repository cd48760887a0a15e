"""`python -m ilake.cli`: the same command as the `ilake` console script."""

from . import main

raise SystemExit(main())
