"""The handlers' per-container caches, reset so each test starts as a fresh Lambda container:
clients bound to the moto of that test, no cached secret, key ARN or program."""

from __future__ import annotations

from lambdas.authorizer import handler as authorizer
from lambdas.compaction import handler as compaction
from lambdas.governance import erase, purge
from lambdas.ingest import handler as ingest

CACHED = (
    ingest.service,
    authorizer._dynamodb,
    compaction._clients,
    compaction._text_store,
    compaction._programs,
    purge._clients,
    erase._clients,
)


def reset_handler_caches() -> None:
    """New containers for every handler."""
    for cached in CACHED:
        cached.cache_clear()
