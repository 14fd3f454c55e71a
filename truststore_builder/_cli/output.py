"""What the command line prints: lines and JSON on stdout, one-line messages on stderr.

Everything a certificate or a file name brings in is made printable first, so that nothing
quoted drives the terminal. A standard output whose reader has gone (``inspect --json | head``)
is :class:`StdoutClosedError`, which ends the command quietly, as it ends a Unix tool.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TextIO

from truststore_builder._report import aligned_lines, printable

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from truststore_builder._model import NhsCa

#: The program's name, as usage messages and every line on stderr give it.
PROG = "truststore-builder"


class StdoutClosedError(Exception):
    """Standard output's reader has closed it (``| head``): nothing more can be printed."""


def say(stream: TextIO, kind: str, message: str) -> None:
    r"""Print ``message`` as one line: newlines inside it would break the one-line promise.

    Control characters (a certificate's subject can hold ESC or CR) are shown as escapes, and
    so are the surrogates a file name that is not UTF-8 arrives with (\udcff), which a
    stream might refuse.
    """
    text = printable(" ".join(message.split("\n")))  # a CR stays, to be shown escaped
    stream.write(f"{PROG}: {kind}: {text}\n")


def out(text: str) -> None:
    """Write ``text`` to stdout, each line made printable: nothing it quotes drives the terminal."""
    write_stdout("".join(printable(line) + "\n" for line in text.split("\n")))


def out_line(text: str) -> None:
    r"""Write ``text`` to stdout as one line: a newline in what it quotes is shown as ``\n``.

    For a line that quotes a certificate's subject or a path (``wrote FILE (...)``), where a
    newline would start a line the program never wrote.
    """
    write_stdout(printable(text) + "\n")


def dump_json(document: object) -> None:
    """Write ``document`` to stdout as indented JSON, then a newline."""
    write_stdout(json.dumps(document, indent=2) + "\n")


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout as it is.

    Raises:
        StdoutClosedError: The reader of stdout has closed it.
    """
    try:
        for start in range(0, len(text), _PIECE):
            sys.stdout.write(text[start : start + _PIECE])
    except BrokenPipeError:
        raise StdoutClosedError from None


#: Characters per write to stdout. One write larger than stdout's buffer that a closing reader
#: cuts short comes back as a short count, which sys.stdout ignores: the closed pipe went
#: unnoticed and the rest was lost. Small pieces fill the buffer, whose flush does raise.
_PIECE = 1024


def flush_stdout() -> None:
    """Send what stdout still holds to its reader.

    Raises:
        StdoutClosedError: The reader of stdout has closed it.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosedError from None


def nhs_fields(nhs: NhsCa | None) -> dict[str, object]:
    """The JSON fields naming ``nhs``, the NHS CA a certificate is (all None when it is none)."""
    if nhs is None:
        return {"nhs_name": None, "nhs_generation": None, "nhs_environments": None}
    return {
        "nhs_name": nhs.name,
        "nhs_generation": nhs.generation.value,
        "nhs_environments": [e.value for e in nhs.environments],
    }


def iso_date(when: dt.datetime) -> str:
    """``when`` as YYYY-MM-DD."""
    return f"{when:%Y-%m-%d}"


def table(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` as aligned text columns, the first row the header."""
    return "\n".join(aligned_lines(rows))
