"""``nhs list``: the NHS CA catalogue shipped with the package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import Parser, add_common_options
from truststore_builder._cli.output import dump_json, out, table
from truststore_builder._model import Environment
from truststore_builder._sources.nhs import nhs_catalogue

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from truststore_builder._model import RetiredCa


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``nhs`` subcommand to ``commands``."""
    nhs = commands.add_parser(
        "nhs",
        help="the NHS CA catalogue shipped with truststore_builder",
        description="The NHS CA catalogue shipped with truststore_builder.",
    )
    add_common_options(nhs)
    nhs_commands = nhs.add_subparsers(dest="nhs_command", metavar="COMMAND", required=True)
    nhs_list = nhs_commands.add_parser(
        "list",
        help="list every NHS CA the catalogue knows",
        description=(
            "List every NHS CA the catalogue knows, in store order: its alias, name, "
            "environments, generation, role, purpose, pinned fingerprint, and whether its "
            "file is shipped (or only its fingerprint is pinned, so that a file you add is "
            "recognised). With --retired, the retired CAs instead: old CAs that stores in "
            "service may still hold and none needs any more, pinned and never shipped."
        ),
    )
    add_common_options(nhs_list)
    nhs_list.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        help="only the CAs of this environment",
    )
    nhs_list.add_argument(
        "--retired",
        action="store_true",
        help="list the retired CAs (which inspect and diff say can go) instead",
    )
    nhs_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    nhs_list.set_defaults(handler=_nhs_list)


def _nhs_list(args: argparse.Namespace) -> int:

    if args.retired:
        if args.env is not None:
            msg = "--env does not apply to --retired: retired CAs serve no environment today"
            raise UsageError(msg)
        return _list_retired(nhs_catalogue().retired, as_json=args.json)
    cas = [ca for ca in nhs_catalogue().cas if args.env is None or args.env in ca.environments]
    if args.json:
        dump_json(
            [
                {
                    "slug": ca.slug,
                    "name": ca.name,
                    "environments": [e.value for e in ca.environments],
                    "generation": ca.generation.value,
                    "role": ca.role,
                    "purpose": ca.purpose,
                    "sha256": ca.sha256,
                    "sha1": ca.sha1,
                    "shipped": ca.file is not None,
                }
                for ca in cas
            ]
        )
        return 0
    rows = [("alias", "name", "environments", "gen", "role", "purpose", "file", "fingerprint")]
    rows.extend(
        (
            ca.slug,
            ca.name,
            ",".join(ca.environments),
            ca.generation.value,
            ca.role,
            ca.purpose,
            "shipped" if ca.file else "pinned only",
            f"sha256:{ca.sha256}" if ca.sha256 else f"sha1:{ca.sha1}",
        )
        for ca in cas
    )
    out(table(rows))
    return 0


def _list_retired(retired: Sequence[RetiredCa], *, as_json: bool) -> int:
    if as_json:
        dump_json(
            [
                {
                    "slug": ca.slug,
                    "name": ca.name,
                    "expired": ca.expired.isoformat(),
                    "why": ca.why,
                    "sha256": ca.sha256,
                }
                for ca in retired
            ]
        )
        return 0
    rows = [("alias", "name", "expired", "why", "fingerprint")]
    rows.extend(
        (ca.slug, ca.name, ca.expired.isoformat(), ca.why, f"sha256:{ca.sha256}") for ca in retired
    )
    out(table(rows))
    return 0
