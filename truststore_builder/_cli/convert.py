"""``convert``: a certificate file to PEM, DER or PKCS#7."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import Parser, add_common_options
from truststore_builder._convert import convert
from truststore_builder._writing import write_atomically

if TYPE_CHECKING:
    import argparse

#: The formats ``convert --to`` writes.
CONVERT_FORMATS = ("pem", "der", "p7b")
_CONVERT_SUFFIXES = {".pem": "pem", ".crt": "pem", ".der": "der", ".p7b": "p7b", ".p7c": "p7b"}


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``convert`` subcommand to ``commands``."""
    convert = commands.add_parser(
        "convert",
        help="convert a certificate file between PEM, DER and PKCS#7",
        description=(
            "Convert any certificate file truststore_builder reads (PEM, DER, PKCS#7, a "
            "directory) to PEM, DER (exactly one certificate) or PKCS#7."
        ),
    )
    add_common_options(convert)
    convert.add_argument("input", type=Path, metavar="INPUT", help="the file to read")
    convert.add_argument("output", type=Path, metavar="OUTPUT", help="the file to write")
    convert.add_argument(
        "--to",
        choices=CONVERT_FORMATS,
        help="the output format (default: from OUTPUT's suffix: .pem/.crt, .der, .p7b/.p7c)",
    )
    convert.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    convert.set_defaults(handler=_convert)


def _convert(args: argparse.Namespace) -> int:
    output: Path = args.output
    to = args.to or _CONVERT_SUFFIXES.get(output.suffix.lower())
    if to is None:
        msg = (
            f"{output}: cannot tell the output format from the suffix {output.suffix!r}; "
            f"pass --to {'|'.join(CONVERT_FORMATS)}"
        )
        raise UsageError(msg)
    data = convert(args.input, to)
    # An existing OUTPUT (a dangling link included) is refused here, by the writer's one check.
    write_atomically(output, data, overwrite=args.force)
    return 0
