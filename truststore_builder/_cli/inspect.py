"""``inspect``: the certificates in a store or certificate file, and when they expire."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._checks import utc_now
from truststore_builder._cli.errors import password_options
from truststore_builder._cli.options import (
    Parser,
    add_at_option,
    add_catalogue_option,
    add_common_options,
    add_password_options,
    chosen_catalogue,
    store_password,
    whole_days,
)
from truststore_builder._cli.output import dump_json, iso_date, nhs_fields, out, say, table
from truststore_builder._diff import DEFAULT_WITHIN_DAYS, expiry_horizon, horizon_line
from truststore_builder._model import sha256_fingerprint
from truststore_builder._report import expiry_status, retired_line
from truststore_builder._sources.files import read_store

if TYPE_CHECKING:
    from truststore_builder._diff import Horizon


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``inspect`` subcommand to ``commands``."""
    inspect = commands.add_parser(
        "inspect",
        help="list the certificates in a store, or report every store under some directories",
        description=(
            "With one FILE: list its certificates (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS), "
            "one line each: alias, subject, issuer, not-after, SHA-256, the NHS name and "
            "generation where the catalogue knows the certificate, and whether it has expired; "
            "then a line for each retired CA the file holds (an old NHS CA no store needs any "
            "more, which can go). With several paths, a directory (read recursively) or an "
            "estate option (--password-map, --json-out, --metrics, --html): report every store "
            "found, one line each (entries, key entries, what expires first, retired and "
            "impostor NHS CAs, G2 CAs missing for its environment), then what needs doing. A "
            "store that cannot be read is reported and the scan goes on; the exit status is "
            "then 2."
        ),
    )
    add_common_options(inspect)
    inspect.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="a store or certificate file, or a directory of them (read recursively)",
    )
    add_password_options(
        inspect,
        "the password of a PKCS#12, JKS or JCEKS store (with --password-map: of the stores "
        "the map does not name)",
    )
    inspect.add_argument(
        "--password-map",
        metavar="FILE",
        type=Path,
        help=(
            "a TOML file of [[store]] rules, first match wins: glob (a path pattern; ** spans "
            "directories) and password_env or password_file, naming where each store's "
            "password is; a map holding a password itself is refused"
        ),
    )
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument(
        "--fail-within",
        metavar="DAYS",
        type=whole_days,
        help=(
            "exit 1 if any certificate expires within DAYS days (an expired one always "
            "counts), naming each, so that a deployment fails ahead of an expiry"
        ),
    )
    inspect.add_argument(
        "--json-out", metavar="FILE", type=Path, help="also write the estate report as JSON to FILE"
    )
    inspect.add_argument(
        "--metrics",
        metavar="FILE",
        type=Path,
        help=(
            "also write Prometheus metrics to FILE (name it *.prom in node exporter's textfile "
            "directory): each certificate's and each store's expiry as a Unix time, labelled "
            "store, alias, subject, nhs_ca and environment; OpenMetrics text that the "
            "Prometheus text parser reads too"
        ),
    )
    inspect.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help=(
            "also write a self-contained HTML page to FILE (no scripts, no network): the "
            "stores as a table and an expiry timeline"
        ),
    )
    inspect.add_argument(
        "--force",
        action="store_true",
        help="replace existing --json-out, --metrics and --html files (each written atomically)",
    )
    inspect.add_argument(
        "--workers",
        metavar="N",
        type=_workers,
        help="processes reading stores (default: every CPU for 48 stores or more, else 1)",
    )
    add_at_option(inspect)
    add_catalogue_option(inspect)
    inspect.set_defaults(handler=_inspect)


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        msg = f"not a whole number of processes, 1 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return workers


_ESTATE_OPTIONS = ("password_map", "json_out", "metrics", "html")


def _is_estate(args: argparse.Namespace) -> bool:
    """Several paths, a directory, or an option only the estate report has."""
    if len(args.paths) > 1 or any(getattr(args, option) for option in _ESTATE_OPTIONS):
        return True
    first: Path = args.paths[0]
    return first.is_dir()


def _inspect(args: argparse.Namespace) -> int:
    if _is_estate(args):
        from truststore_builder._cli.estate import inspect_estate  # noqa: PLC0415 - start-up time

        return inspect_estate(args)
    return _inspect_file(args, args.paths[0])


def _inspect_file(args: argparse.Namespace, path: Path) -> int:
    password = store_password(args)
    with password_options({"password": [path]}):
        entries = read_store(path, password=password)
    catalogue = chosen_catalogue(args)
    now = args.at or utc_now()
    window = DEFAULT_WITHIN_DAYS if args.fail_within is None else args.fail_within
    horizon = expiry_horizon(entries, at=now, within_days=window, catalogue=catalogue)
    records = []
    retired_lines = []
    for entry in entries:
        certificate = entry.certificate
        nhs = catalogue.recognise(certificate)
        sha256 = sha256_fingerprint(certificate)
        retired = catalogue.retirement_of(sha256)
        if retired is not None:
            retired_lines.append(retired_line(entry.alias or retired.name, retired))
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        records.append(
            {
                "alias": entry.alias,
                "subject": certificate.subject.rfc4514_string(),
                "issuer": certificate.issuer.rfc4514_string(),
                "not_before": not_before.isoformat(),
                "not_after": not_after.isoformat(),
                "sha256": sha256,
                **nhs_fields(nhs),
                "trusted": entry.trusted,
                "expired": not (not_before <= now <= not_after),
                "status": expiry_status(not_before, not_after, now),
                "retired": None
                if retired is None
                else {
                    "slug": retired.slug,
                    "name": retired.name,
                    "expired": retired.expired.isoformat(),
                    "why": retired.why,
                },
            }
        )
    if args.json:
        dump_json({"file": str(path), "entries": records, "expiry_horizon": horizon.to_dict()})
        return _horizon_status(args.fail_within, horizon)
    rows = [("alias", "subject", "issuer", "not after", "sha256", "nhs", "status")]
    rows.extend(
        (
            str(record["alias"]) or "-",
            str(record["subject"]),
            str(record["issuer"]),
            str(record["not_after"])[:10],
            str(record["sha256"]),
            f"{record['nhs_name']} ({record['nhs_generation']})" if record["nhs_name"] else "-",
            str(record["status"]),
        )
        for record in records
    )
    out(table(rows))
    for line in retired_lines:
        out(line)
    out(horizon_line(horizon))
    return _horizon_status(args.fail_within, horizon)


def _horizon_status(fail_within: int | None, horizon: Horizon) -> int:
    """1 (with a line on stderr) when ``--fail-within`` was given and something expires within it."""
    if fail_within is None or horizon.ok:
        return 0
    names = ", ".join(
        f"{e.label} ({'expired' if e.expired else 'expires'} {iso_date(e.not_after)})"
        for e in horizon.within
    )
    count = len(horizon.within)
    say(
        sys.stderr,
        "error",
        f"{count} {'certificate expires' if count == 1 else 'certificates expire'} within "
        f"{fail_within} days "
        f"(--fail-within): {names}",
    )
    return 1
