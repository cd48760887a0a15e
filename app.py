"""CDK entry point for Interaction Lake.

The stack (keys, lake bucket, Glue catalog, API, Lambdas, workflows, all driven by the files in
programs/) is built by the infrastructure issue; until it lands this entry point says so rather
than synthesizing a partial, insecure template. The runtime it will deploy is in lambdas/ and
already reads its configuration from the environment variables listed in
lambdas/core/settings.py.
"""

from __future__ import annotations

import sys


def main() -> int:
    print(
        "The CDK stack is not built yet (issue 3: infra). The ingest runtime is in lambdas/; "
        "try `make demo`.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
