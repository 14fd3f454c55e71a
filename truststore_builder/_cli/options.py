"""What the subcommands share: the parser class, argument types, and the common options.

The password options name a variable or a file, never the secret; :func:`read_secret` reads it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from truststore_builder._cli.errors import UsageError
from truststore_builder._sources.files import read_named_password
from truststore_builder._sources.nhs import load_nhs_catalogue, nhs_catalogue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._sources.nhs import NhsCatalogue


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, raised rather than printed and exited."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with ``message`` and where to find help."""
        msg = f"{message} (see {self.prog} --help)"
        raise UsageError(msg)


def comma_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    """The items of a comma-separated option, lower-cased, each once, in the order given.

    Raises:
        argparse.ArgumentTypeError: None given, or one not in ``allowed`` (``what`` names them).
    """
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not items:
        msg = f"no {what} given; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        msg = f"unknown {what} {','.join(unknown)}; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    return list(dict.fromkeys(items))


def timestamp(text: str) -> dt.datetime:
    """An ``--at`` time: ISO-8601, UTC when it names no zone.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an ISO-8601 time.
    """
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"not an ISO-8601 time: {text!r} (e.g. 2026-01-31T12:00:00Z)"
        raise argparse.ArgumentTypeError(msg) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def add_password_options(
    parser: argparse._ActionsContainer,
    what: str,
    *,
    option: str = "password",
) -> None:
    """Add ``--<option>-env VAR`` and ``--<option>-file FILE``, one or neither, for ``what``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{option}-env",
        metavar="VAR",
        help=f"read {what} from the environment variable VAR",
    )
    group.add_argument(
        f"--{option}-file",
        metavar="FILE",
        type=Path,
        help=f"read {what} from FILE (one trailing newline, LF or CRLF, is removed)",
    )


def add_at_option(parser: argparse.ArgumentParser, what: str = "judge expiry at this time") -> None:
    """Add ``--at ISO-8601``, the time ``what`` is done at (default: now)."""
    parser.add_argument(
        "--at",
        metavar="ISO-8601",
        type=timestamp,
        help=f"{what}, e.g. 2026-01-31T12:00:00Z (default: now)",
    )


def whole_days(text: str) -> int:
    """An option's whole number of days, 0 or more (``--fail-within``)."""
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        msg = f"not a whole number of days, 0 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return days


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add the options every subcommand takes after its name (``--debug``)."""
    # SUPPRESS: a subcommand's --debug must not reset one given before the subcommand.
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )


def store_password(args: argparse.Namespace) -> bytes | None:
    """The store password the options name, as bytes, or None when none was given.

    Raises:
        UsageError: The variable is unset or empty, or the file cannot be read or is empty.
    """
    return read_secret(args.password_env, args.password_file, "password")


def read_secret(variable: str | None, path: Path | None, option: str) -> bytes | None:
    """Read a secret from ``--<option>-env VAR`` or ``--<option>-file FILE``; None if neither.

    Messages name the option, never its value: a password typed where the variable's name or
    the file's path belongs must not be printed back.

    Raises:
        UsageError: The variable is unset or empty, the file cannot be read or is empty, or
            the secret holds a NUL character.
    """

    def refuse(kind: str, problem: str) -> NoReturn:
        msg = f"--{option}-{kind}: {problem}"
        raise UsageError(msg)

    return read_named_password(variable, path, refuse)


def add_catalogue_option(parser: argparse._ActionsContainer, use: str = "use") -> None:
    """Add ``--catalogue DIR``: a user catalogue (``nhs update --out``) instead of the shipped one.

    ``use`` is the verb the help starts with (``nhs update`` starts *from* it).
    """
    parser.add_argument(
        "--catalogue",
        type=Path,
        metavar="DIR",
        help=(
            f"{use} the NHS catalogue in DIR (as nhs update --out writes it; every file "
            "checked against its pin) instead of the one shipped with truststore_builder"
        ),
    )


def chosen_catalogue(args: argparse.Namespace) -> NhsCatalogue:
    """The catalogue ``--catalogue DIR`` names, loaded and pin-checked; else the shipped one.

    Raises:
        InputError: The directory holds no readable manifest or certificate.
        PinMismatchError: A file in it differs from its pin (names the file).
    """
    directory = getattr(args, "catalogue", None)
    return nhs_catalogue() if directory is None else load_nhs_catalogue(directory)
