"""How the command line ends: the exit status each error maps to, decided in the CLI alone."""

from __future__ import annotations

import pytest

from truststore_builder._cli.errors import UsageError, exit_status
from truststore_builder._errors import (
    BatchError,
    CheckError,
    InputError,
    KeyMismatchError,
    OutputExistsError,
    ReadBackError,
    RecipeError,
    TruststoreBuilderError,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CheckError("refused"), 1),
        (KeyMismatchError("key.pem: not the certificate's key"), 1),
        (ReadBackError("store.p12: differs"), 1),
        (InputError("in.pem: unreadable"), 2),
        (RecipeError("r.toml: trust: unknown key"), 2),
        (OutputExistsError("out.pem: already exists"), 2),
        (TruststoreBuilderError("anything else"), 2),
        (UsageError("give --env"), 2),
        (BatchError("2 of 3 rows failed", failures=(KeyMismatchError("a"), CheckError("b"))), 1),
        (BatchError("2 of 3 rows failed", failures=(KeyMismatchError("a"), InputError("b"))), 2),
        (KeyboardInterrupt(), 130),
        (RuntimeError("a bug"), 2),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_exit_status_maps_each_error(error: BaseException, status: int) -> None:
    """A refused check is 1 (a batch only when every row was refused by one), the rest 2."""
    assert exit_status(error) == status


def test_the_library_errors_carry_no_exit_status() -> None:
    """Exit statuses are the command line's business: no library exception has one."""
    for error in (CheckError("x"), InputError("x"), BatchError("x", failures=(InputError("y"),))):
        assert not hasattr(error, "exit_status")
