"""The whole command line's parser: the program's options, then each subcommand's own parser.

The subcommands are listed in ``--help`` in the order they are added here.
"""

from __future__ import annotations

import argparse

from truststore_builder._cli import build, check, convert, csr, diff, inspect, nhs, verify
from truststore_builder._cli.options import Parser
from truststore_builder._cli.output import PROG, write_stdout


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser (the CLI reference in the docs is generated from it).

    Returns:
        The parser for ``truststore-builder`` and its subcommands.
    """
    parser = Parser(
        prog=PROG,
        description=(
            "Build the trust stores and key stores NHS systems need for the G1 to G2 PKI "
            "move: the NHS CAs of an environment, checked against pinned fingerprints, and a "
            "system's client certificate and key, checked, written as PEM, PKCS#12, JKS, "
            "JCEKS, PKCS#7 or an OpenSSL hashed directory, or as deployment files "
            "(Kubernetes manifests, environment files, chain files, Windows CA files, PFX)."
        ),
        epilog=(
            "Exit status: 0 success, 1 a check refused the build, 2 a usage error or input "
            "that cannot be read."
        ),
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show program's version number and exit"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    nhs.add_parser(commands)
    build.add_parser(commands)
    convert.add_parser(commands)
    inspect.add_parser(commands)
    verify.add_parser(commands)
    csr.add_parser(commands)
    check.add_parser(commands)
    diff.add_parser(commands)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: look the version up only when asked (importlib.metadata is slow to load)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,  # noqa: ARG002
        values: object,  # noqa: ARG002
        option_string: str | None = None,  # noqa: ARG002
    ) -> None:
        """Print the version and exit, as argparse's own version action does."""
        write_stdout(f"{parser.prog} {_version()}\n")
        parser.exit()


def _version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - start-up time

    try:
        return version("truststore-builder")
    except PackageNotFoundError:
        return "(not installed)"
