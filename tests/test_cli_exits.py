"""How the command line ends: the exit status each error maps to, decided in the CLI alone."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import BUNDLES
from truststore_builder._cli.errors import UsageError, exit_status
from truststore_builder._cli.output import StdoutClosedError
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

if TYPE_CHECKING:
    from pathlib import Path

#: Enough copies of the NHS certificates that `inspect --json` prints far more than a pipe holds.
COPIES = 80
CLI = [sys.executable, "-m", "truststore_builder"]


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
        (StdoutClosedError(), 141),
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


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEM file of the shipped NHS CAs, 80 times over."""
    pem = b"".join(path.read_bytes() for path in sorted(BUNDLES.glob("*.pem")))
    path = tmp_path_factory.mktemp("big") / "big.pem"
    path.write_bytes(pem * COPIES)
    return path


@pytest.mark.parametrize(
    ("options", "reader"),
    [(["--json"], ["head", "-c", "10"]), ([], ["head", "-n", "1"])],
    ids=["json-head-c", "table-head-n"],
)
def test_a_closed_stdout_ends_quietly(
    big_store: Path, options: list[str], reader: list[str]
) -> None:
    """`inspect | head`: no message, no traceback, status 141 (128 + SIGPIPE), as a Unix tool."""
    command = [*CLI, "inspect", *options, str(big_store), "--at", "2026-01-01T00:00:00Z"]
    whole = subprocess.run(command, capture_output=True, check=False, timeout=120)
    # The control: read to the end, the same command succeeds and prints far more than a pipe
    # holds (64 KiB), so in the pipeline below the reader really goes before the writer is done.
    assert whole.returncode == 0, whole.stderr
    assert len(whole.stdout) > 2 * 65536
    if options:
        assert len(json.loads(whole.stdout)["entries"]) == len(list(BUNDLES.glob("*.pem"))) * COPIES
    writer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None
    assert writer.stderr is not None
    head = subprocess.run(reader, stdin=writer.stdout, capture_output=True, check=True, timeout=120)
    writer.stdout.close()  # only head reads the pipe: when head has gone, it is closed
    stderr = writer.stderr.read()
    writer.stderr.close()
    assert writer.wait(timeout=120) == 141, stderr
    assert stderr == b""
    assert whole.stdout.startswith(head.stdout)
    assert head.stdout
