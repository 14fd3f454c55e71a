r"""Environment files: PEM certificates and keys as environment variable values, one line each.

Some services take their certificates from the environment. NHS England's MHS adaptor reads
``MHS_SECRET_CLIENT_CERT``, ``MHS_SECRET_CLIENT_KEY`` and ``MHS_SECRET_CA_CERTS`` and writes
each value, as it is, to a PEM file it hands to Python's ``ssl`` module: the value in the
process's environment must hold the PEM text with its real line breaks. A file can carry such a
value on one line in two dialects, each of which turns ``\n`` back into a line break:

- ``dotenv``: ``NAME="...\n..."``, the ``.env`` file of Docker Compose and python-dotenv;
- ``shell``: ``export NAME=$'...\n...'``, bash's ANSI-C quoting, for ``source`` (the MHS
  adaptor's own set-up notes export the values this way).

``docker run --env-file`` interprets neither quotes nor escapes, and no file it reads can give
a value a line break: use Compose or the shell file for it.

Only PEM text is written (letters, digits, ``+/=``, blanks, dashes and line breaks), so no
value ever needs a quote, a ``$`` or a backslash escaped, in either dialect.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

from truststore_builder._errors import InvalidNameError, ReadBackError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MHS_CA_VARIABLE",
    "MHS_CERT_VARIABLE",
    "MHS_KEY_VARIABLE",
    "EnvDialect",
    "check_variable_name",
    "one_line",
    "read_env_file",
    "serialize_env_file",
]

#: The MHS adaptor's variables: the endpoint certificate, its private key, and the CA
#: certificates ("endpoint issuing subCA certificate, root CA certificate", in that order).
MHS_CERT_VARIABLE = "MHS_SECRET_CLIENT_CERT"
MHS_KEY_VARIABLE = "MHS_SECRET_CLIENT_KEY"
MHS_CA_VARIABLE = "MHS_SECRET_CA_CERTS"

#: A name every shell can set and every dotenv reader takes (POSIX's portable names).
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: What PEM text holds: base64, the BEGIN/END lines' words and dashes, blanks and line breaks.
_PEM_TEXT = re.compile(r"[-A-Za-z0-9+/= \n]*")


class EnvDialect(enum.StrEnum):
    """How a file spells a one-line value."""

    #: ``NAME="...\\n..."``: Docker Compose's and python-dotenv's ``.env``.
    DOTENV = "dotenv"
    #: ``export NAME=$'...\\n...'``: bash's ANSI-C quoting, for ``source``.
    SHELL = "shell"


def check_variable_name(name: str) -> str:
    """Return ``name`` if every shell and dotenv reader takes it as a variable's name.

    Raises:
        InvalidNameError: It is not letters, digits and ``_``, starting with a letter or ``_``.
    """
    if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
        msg = (
            f"environment variable name {name!r} is not a valid portable name: use letters, "
            "digits and '_', starting with a letter or '_'"
        )
        raise InvalidNameError(msg, name=str(name), rule="portable variable name")
    return name


def one_line(pem: str) -> str:
    r"""PEM text on one line: each line break written ``\n``.

    Raises:
        ValueError: The text holds a character PEM text never holds (the message says which
            kind, never the text, which may be a private key).
    """
    if not _PEM_TEXT.fullmatch(pem):
        msg = "an environment value holds a character that is not PEM text"
        raise ValueError(msg)
    return pem.replace("\n", "\\n")


def serialize_env_file(
    values: Mapping[str, str], dialect: EnvDialect | str, comment: str = ""
) -> bytes:
    """One ``NAME=value`` line per variable, in ``values``' order, each value on one line.

    Args:
        values: Variable name to PEM text (with real line breaks).
        dialect: ``dotenv`` or ``shell`` (see the module's description).
        comment: A first line of comment, if any (one line of printable ASCII).

    Raises:
        InvalidNameError: A variable name a shell cannot set.
        ValueError: A value that is not PEM text, or a comment that is not one line.
    """
    chosen = EnvDialect(dialect)
    lines = []
    if comment:
        if not comment.isascii() or not comment.isprintable():
            msg = "the comment must be one line of printable ASCII"
            raise ValueError(msg)
        lines.append(f"# {comment}")
    for name, value in values.items():
        check_variable_name(name)
        if chosen is EnvDialect.DOTENV:
            lines.append(f'{name}="{one_line(value)}"')
        else:
            lines.append(f"export {name}=$'{one_line(value)}'")
    return ("\n".join(lines) + "\n").encode("ascii")


_DOTENV_LINE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="([^"\\]*(?:\\n[^"\\]*)*)"')
_SHELL_LINE = re.compile(r"export ([A-Za-z_][A-Za-z0-9_]*)=\$'([^'\\]*(?:\\n[^'\\]*)*)'")


def read_env_file(data: bytes, dialect: EnvDialect | str, source: str = "<env>") -> dict[str, str]:
    r"""Read back a file :func:`serialize_env_file` wrote: each variable's value, line breaks real.

    A reader of exactly what is written (comments, and one quoted value a line whose only
    escape is ``\n``), by patterns of its own, not the writer's code.

    Raises:
        ReadBackError: A line outside that, or a variable set twice (the message names the line
            number, never its value).
    """
    pattern = _DOTENV_LINE if EnvDialect(dialect) is EnvDialect.DOTENV else _SHELL_LINE
    values: dict[str, str] = {}
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        msg = f"{source}: is not ASCII; nothing was written"
        raise ReadBackError(msg) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            continue
        match = pattern.fullmatch(line)
        if match is None or match.group(1) in values:
            msg = f"{source}: line {number} is not one variable set once; nothing was written"
            raise ReadBackError(msg)
        values[match.group(1)] = match.group(2).replace("\\n", "\n")
    return values
