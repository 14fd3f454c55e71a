"""``nhs list``: the NHS CA catalogue; ``nhs update``: a user catalogue from downloaded CAs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._catalogue_update import (
    normalise_pin,
    propose_catalogue_update,
    write_catalogue,
)
from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import (
    Parser,
    add_at_option,
    add_catalogue_option,
    add_common_options,
    chosen_catalogue,
    comma_list,
)
from truststore_builder._cli.output import dump_json, out, say, table
from truststore_builder._model import Environment, Generation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._model import RetiredCa


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``nhs`` subcommand to ``commands``."""
    nhs = commands.add_parser(
        "nhs",
        help="the NHS CA catalogue: list it, or write a user catalogue from downloaded CAs",
        description=(
            "The NHS CA catalogue shipped with truststore_builder (or a user catalogue, with "
            "--catalogue DIR): list it, or propose and write a user catalogue from CA "
            "certificates downloaded from NHS England (nhs update)."
        ),
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
    add_catalogue_option(nhs_list)
    nhs_list.set_defaults(handler=_nhs_list)
    _add_update_parser(nhs_commands)


def _pin(text: str) -> str:
    try:
        return normalise_pin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _environments(text: str) -> list[str]:
    return comma_list(text, [e.value for e in Environment], "environment")


def _add_update_parser(nhs_commands: argparse._SubParsersAction[Parser]) -> None:
    update = nhs_commands.add_parser(
        "update",
        help="propose a user catalogue from NHS CA certificates you downloaded, and write it",
        description=(
            "Read CA certificates downloaded from NHS England (for example from the AIA URLs "
            "under http://pki.nhs.uk/; PEM, DER .crt/.cer, PKCS#7, or directories of them) "
            "and print what a new catalogue would hold: a CA (basicConstraints CA, keyCertSign) "
            "whose signature chains to a pinned NHS root is added with its issuer's "
            "generation and environments; a root only with the pin you give (--pin); a file "
            "for a CA pinned only is added; a CA not valid now is named and left out; "
            "anything else (a forged CA, an unknown root, a leaf, a retired CA) is refused. "
            "With --out, write the catalogue to DIR (manifest with pins, and the PEM files) "
            "for --catalogue DIR; the shipped catalogue is never modified."
        ),
        epilog=(
            "Exit status: 0 nothing refused (and DIR written, with --out), 1 a certificate "
            "refused (nothing written), 2 a usage error or a file that cannot be read."
        ),
    )
    add_common_options(update)
    update.add_argument(
        "--from",
        dest="sources",
        required=True,
        nargs="+",
        action="extend",
        type=Path,
        metavar="PATH",
        help="CA certificate files or directories (walked recursively); repeatable",
    )
    update.add_argument(
        "--pin",
        dest="pins",
        action="append",
        default=[],
        type=_pin,
        metavar="FINGERPRINT",
        help=(
            "accept the new root with this SHA-256 fingerprint, or the SHA-1 thumbprint NHS "
            "England's PKI page publishes (hex; colons and a sha256: or sha1: prefix are "
            "allowed); take it from NHS England, not from the file; repeatable"
        ),
    )
    update.add_argument(
        "--env",
        type=_environments,
        metavar="ENV[,ENV]",
        help=(
            "the environments a new CA serves, where its issuer serves several (a PTL CA "
            "could be int or dep: say which); each must be one its issuer serves; required "
            "for a new root"
        ),
    )
    update.add_argument(
        "--generation",
        choices=[g.value for g in Generation],
        help="a new root's generation (intermediates take their issuer's)",
    )
    update.add_argument(
        "--purpose",
        choices=["authentication", "signing"],
        help=(
            "the purpose of what is added (default: its issuer's, or authentication under a "
            "root); say signing for a signing CA such as NHS Signing G2, which no TLS store holds"
        ),
    )
    update.add_argument(
        "--include-expired",
        action="store_true",
        help="add a genuine CA that is not valid now (with a warning) instead of leaving it out",
    )
    add_catalogue_option(update, "start from")
    add_at_option(update, "judge validity at this time")
    update.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write the new catalogue to DIR (without it, only show what would change)",
    )
    update.add_argument("--force", action="store_true", help="replace DIR if it is not empty")
    update.add_argument("--json", action="store_true", help="print JSON instead of a table")
    update.set_defaults(handler=_nhs_update)


def _nhs_update(args: argparse.Namespace) -> int:
    update = propose_catalogue_update(
        args.sources,
        pins=args.pins,
        environments=args.env,
        generation=args.generation,
        purpose=args.purpose,
        include_expired=args.include_expired,
        catalogue=chosen_catalogue(args),
        at=args.at,
    )
    if args.json:
        document = update.to_dict()
        document["written"] = None
    else:
        out(str(update))
    for change in update.expired:
        say(sys.stderr, "warning", f"{change.source}: {change.subject}: {change.reason}")
    if update.refused:
        if args.json:
            dump_json(document)
        update.raise_for_refused()
    if args.out is not None:
        written = write_catalogue(update, args.out, overwrite=args.force)
        if args.json:
            document["written"] = str(written.directory)
        else:
            out(
                f"wrote {written.directory} ({len(written.certificates)} certificates, pins checked)"
            )
    elif not args.json:
        out("nothing written (give --out DIR to write the catalogue)")
    if args.json:
        dump_json(document)
    return 0


def _nhs_list(args: argparse.Namespace) -> int:
    catalogue = chosen_catalogue(args)
    if args.retired:
        if args.env is not None:
            msg = "--env does not apply to --retired: retired CAs serve no environment today"
            raise UsageError(msg)
        return _list_retired(catalogue.retired, as_json=args.json)
    cas = [ca for ca in catalogue.cas if args.env is None or args.env in ca.environments]
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
