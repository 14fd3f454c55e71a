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
    add_common_options,
    add_password_options,
    store_password,
)
from truststore_builder._cli.output import dump_json, iso_date, nhs_fields, out, say, table
from truststore_builder._diff import DEFAULT_WITHIN_DAYS, expiry_horizon, horizon_line
from truststore_builder._model import sha256_fingerprint
from truststore_builder._report import expiry_status, retired_line
from truststore_builder._sources.files import read_store
from truststore_builder._sources.nhs import nhs_catalogue

if TYPE_CHECKING:
    from truststore_builder._diff import Horizon


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``inspect`` subcommand to ``commands``."""
    inspect = commands.add_parser(
        "inspect",
        help="list the certificates in a trust store or certificate file",
        description=(
            "List the certificates in FILE (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS), one line "
            "each: alias, subject, issuer, not-after, SHA-256, the NHS name and generation "
            "where the catalogue knows the certificate, and whether it has expired; then a "
            "line for each retired CA the file holds (an old NHS CA no store needs any more, "
            "which can go)."
        ),
    )
    add_common_options(inspect)
    inspect.add_argument("file", type=Path, metavar="FILE", help="the file to read")
    add_password_options(inspect, "the password of a PKCS#12, JKS or JCEKS store")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument(
        "--fail-within",
        metavar="DAYS",
        type=_days,
        help=(
            "exit 1 if any certificate expires within DAYS days (an expired one always "
            "counts), so that a deployment fails ahead of an expiry"
        ),
    )
    add_at_option(inspect)
    inspect.set_defaults(handler=_inspect)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        msg = f"not a whole number of days, 0 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return days


def _inspect(args: argparse.Namespace) -> int:
    password = store_password(args)
    with password_options({"password": [args.file]}):
        entries = read_store(args.file, password=password)
    catalogue = nhs_catalogue()
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
        dump_json({"file": str(args.file), "entries": records, "expiry_horizon": horizon.to_dict()})
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
