"""How the command line reports an error or a warning, and the exit status each error gives.

The library's exceptions carry no exit status: :func:`exit_status` maps them. 0 is success;
1 a check refused (a :class:`~truststore_builder.CheckError`, or a
:class:`~truststore_builder.BatchError` whose every row a check refused); 2 a usage error,
input that cannot be read or output that cannot be written (every other error); 130 an
interrupt; 141 a standard output its reader closed (128 + SIGPIPE, as a shell reports a Unix
tool the signal ended).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import TYPE_CHECKING, TextIO

from truststore_builder._cli.output import StdoutClosedError, say
from truststore_builder._errors import (
    ALLOW_G1_REMEDY,
    ALLOW_IMPOSTORS_REMEDY,
    ALLOW_LEAF_REMEDY,
    OVERWRITE_REMEDY,
    BatchError,
    CheckError,
    MissingPasswordError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path


class UsageError(Exception):
    """A command line that cannot be carried out as written (exit status 2)."""


#: The exit status of each kind of error: the first class the error is an instance of.
_EXIT_STATUSES: tuple[tuple[type[BaseException], int], ...] = (
    (CheckError, 1),
    (TruststoreBuilderError, 2),
    (UsageError, 2),
    (KeyboardInterrupt, 130),
    (StdoutClosedError, 141),
)


def exit_status(error: BaseException) -> int:
    """The exit status the command line ends with after ``error``.

    Returns:
        1 for a refused check, 130 for an interrupt, 141 for a closed stdout, 2 for anything
        else.
    """
    if isinstance(error, BatchError):
        # 1 only when every row failed a check, as one build that failed a check would.
        return 1 if all(exit_status(failure) == 1 for failure in error.failures) else 2
    return next((status for kind, status in _EXIT_STATUSES if isinstance(error, kind)), 2)


def report_error(exc: BaseException, *, debug: bool, cause: BaseException | None = None) -> None:
    """Print ``exc`` on stderr as one line (after the traceback of ``cause or exc`` with --debug).

    A remedy the library words in Python's terms is given in the command line's.
    """
    if debug:
        traceback.print_exception(cause or exc, file=sys.stderr)
    text = str(exc)
    if isinstance(exc, TruststoreBuilderError) and exc.remedy in _CLI_REMEDIES:
        # The library names its Python argument (overwrite=True); here it is an option.
        text = f"{exc.problem}; {_CLI_REMEDIES[exc.remedy]}"
    say(sys.stderr, "error", text)


#: Remedies in Python's terms, as the command line's options say them.
_CLI_REMEDIES = {
    OVERWRITE_REMEDY: "pass --force to replace it",
    ALLOW_G1_REMEDY: "add --allow-g1 to package it anyway (it then warns)",
    ALLOW_LEAF_REMEDY: "add its issuer instead, or pass --allow-leaf to trust it anyway",
    ALLOW_IMPOSTORS_REMEDY: (
        "a test PKI that imitates NHS names must be allowed explicitly: pass "
        "--allow-test-pki-impostors"
    ),
}


@contextlib.contextmanager
def password_options(options: Mapping[str, Sequence[Path | None]]) -> Iterator[None]:
    """Say which option gives a password the library found missing.

    The library says a store or key "needs its password; none was given"; the command line
    knows which of its options gives the password of that file.

    Args:
        options: An option's stem (``add-password``) to the inputs whose password it gives.

    Raises:
        MissingPasswordError: The library's, with the remedy naming ``--<stem>-env`` and
            ``--<stem>-file`` when its file is one of the inputs (a file in one, for a directory).
    """
    try:
        yield
    except MissingPasswordError as exc:
        stem = _option_of(exc.source, options)
        if stem is None or exc.remedy is not None:
            raise
        remedy = f"give it with --{stem}-env VAR or --{stem}-file FILE"
        raise MissingPasswordError(exc.problem, source=exc.source, remedy=remedy) from exc


def _option_of(source: str | None, options: Mapping[str, Sequence[Path | None]]) -> str | None:
    """The option stem whose inputs hold ``source``, or None."""
    if source is None:
        return None
    for stem, inputs in options.items():
        for given in inputs:
            if given is not None and (
                source == str(given) or source.startswith(str(given).rstrip(os.sep) + os.sep)
            ):
                return stem
    return None


def show_warning(  # noqa: PLR0917  (the signature of warnings.showwarning)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a warning as one line on stderr: ``warnings.showwarning`` while a command runs."""
    del filename, lineno, line  # where it fired is not for the one-line form
    if issubclass(category, TruststoreBuilderWarning):
        say(sys.stderr, "warning", str(message))
        return
    # Another library's warning (cryptography's about a certifi root with a negative serial
    # number, say): one line, once, not a source path and a code line per place it fired.
    text = f"{category.__name__}: {message}"
    if text not in _SHOWN_WARNINGS:
        _SHOWN_WARNINGS.add(text)
        say(file or sys.stderr, "warning", text)


#: The other libraries' warnings already shown in this process.
_SHOWN_WARNINGS: set[str] = set()
