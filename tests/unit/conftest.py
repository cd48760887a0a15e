"""Fixtures of the unit tests (their builders live in tests/support)."""

from __future__ import annotations

import pytest

from lambdas.core.programs import Program
from lambdas.core.pseudonym import Pseudonymizer
from tests.support.builders import SECRET, make_program


@pytest.fixture
def permissive() -> Program:
    return make_program()


@pytest.fixture
def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(SECRET)
