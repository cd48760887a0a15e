"""Local mode in a test: a stack on free loopback ports, and clients for its moto server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from ilake.local import LocalStack, LocalState, free_port
from lambdas.core.settings import BUNDLED_PROGRAMS

from .handlers import reset_handler_caches


@contextmanager
def running_local_stack(state_dir: Path) -> Iterator[LocalState]:
    """Local mode on free loopback ports; afterwards the environment and the handlers' cached
    clients are as before (local mode points them at its moto server)."""
    saved = dict(os.environ)
    stack = LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=free_port())
    try:
        yield stack.start()
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        reset_handler_caches()


def local_client(state: LocalState, service: str) -> Any:
    """A boto3 client for the local stack's moto server, whatever the environment says."""
    return boto3.client(
        service,
        endpoint_url=state.aws_endpoint_url,
        region_name=state.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
