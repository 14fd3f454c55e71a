"""``diff``: what changes when one store replaces another."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import password_options
from truststore_builder._cli.options import (
    Parser,
    add_at_option,
    add_common_options,
    add_password_options,
    read_secret,
)
from truststore_builder._cli.output import dump_json, out
from truststore_builder._diff import diff_stores, diff_text

if TYPE_CHECKING:
    import argparse


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``diff`` subcommand to ``commands``."""
    diff = commands.add_parser(
        "diff",
        help="compare two stores: certificates added, removed and kept; key entries changed",
        description=(
            "Compare OLD and NEW (each PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS, in any mix) "
            "before NEW replaces OLD. Certificates are matched by SHA-256 fingerprint and shown "
            "with alias, subject, NHS name and generation, and expiry; key entries are "
            "compared by alias, then by public key, and reported when their certificate, key "
            "or chain changed. Exit status: 0 the stores are equal, 1 they differ, 2 a usage "
            "error or a store that cannot be read."
        ),
    )
    add_common_options(diff)
    diff.add_argument("old", type=Path, metavar="OLD", help="the store in use")
    diff.add_argument("new", type=Path, metavar="NEW", help="the store to replace it")
    add_password_options(diff, "OLD's password", option="old-password")
    add_password_options(diff, "NEW's password", option="new-password")
    diff.add_argument(
        "--all", action="store_true", help="also list the entries that did not change"
    )
    diff.add_argument(
        "--ignore-aliases",
        action="store_true",
        help="do not count a certificate's alias change as a difference",
    )
    add_at_option(diff)
    diff.add_argument("--json", action="store_true", help="print JSON instead of text")
    diff.set_defaults(handler=_diff)


def _diff(args: argparse.Namespace) -> int:
    old_password = read_secret(args.old_password_env, args.old_password_file, "old-password")
    new_password = read_secret(args.new_password_env, args.new_password_file, "new-password")
    with password_options({"old-password": [args.old], "new-password": [args.new]}):
        result = diff_stores(
            args.old,
            args.new,
            old_password=old_password,
            new_password=new_password,
            at=args.at,
            compare_aliases=not args.ignore_aliases,
        )
    if args.json:
        dump_json(result.to_dict())
    else:
        out(diff_text(result, show_kept=args.all))
    return 0 if result.equal else 1
