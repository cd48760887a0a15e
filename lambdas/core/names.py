"""How a program's KMS key alias and pseudonymization secret are named: said here only.

The CDK app, local mode, the Lambdas and the governance workflows (through `name_template`)
build these names with the functions below; tests/unit/test_names.py fails on a copy elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

KEY_ALIAS_PREFIX = "alias/ilake/"
SECRET_NAME_PREFIX = "ilake/"  # noqa: S105 - a name prefix, not a secret


def key_alias(program: str, prefix: str = KEY_ALIAS_PREFIX) -> str:
    """The alias of the program's KMS key (lake objects and its secret)."""
    return f"{prefix}{program}"


def secret_name(program: str, prefix: str = SECRET_NAME_PREFIX) -> str:
    """The Secrets Manager name of the program's HMAC key for pseudonyms."""
    return f"{prefix}{program}/pseudonymization"


def name_template(name: Callable[[str, str], str], prefix: str) -> str:
    """`name` with `{}` where the program goes: what Step Functions' `States.Format` fills."""
    return name("{}", prefix)
